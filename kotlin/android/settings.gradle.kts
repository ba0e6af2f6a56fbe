// HitKit Android library — NOT BUILT HERE: this machine has no Android NDK/SDK and cannot reach
// Gradle's servers or Maven Central. See ../README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "hitkit-android"
