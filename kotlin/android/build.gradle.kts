// HitKit Android library (AAR) — NOT BUILT HERE: this machine has no Android NDK/SDK and
// cannot reach Gradle's servers or Maven Central. Written from the Android Gradle Plugin and
// cargo-ndk documentation; expect small fixes on the first real run.
//
// Build (needs the Android SDK + NDK, Rust with the Android targets, and cargo-ndk):
//   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
//   cargo install cargo-ndk
//   cd kotlin/android && gradle assembleRelease        (or ./gradlew after `gradle wrapper`)
// Publish (maven-publish, below; equally not run here): the AAR, its sources jar and a pom as
// dev.hitkit:hitkit-android:<Cargo.toml's version>, into the repository's build/maven — the
// local Maven repository `make jar` writes the JVM jar (dev.hitkit:hitkit) into:
//   cd kotlin/android && gradle publishReleasePublicationToHitkitRepository
// or `gradle publishToMavenLocal` (~/.m2).
//
// Sources: the same Kotlin as the JVM jar (../src/main/kotlin: the generated hitkit.kt and
// HitKitExtensions.kt), plus src/main/kotlin (ConnectivityMonitor, Android only); native libraries: libhitkit.so per ABI, built by the
// `cargoNdk` task below into build/jniLibs/<abi>/ and packaged by AGP.
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    `maven-publish`
}

// The Rust crate's version (Cargo.toml), as for the JVM jar's pom.
val hitkitVersion: String = rootDir.resolve("../../Cargo.toml").readLines()
    .first { it.startsWith("version = ") }.substringAfter('"').substringBefore('"')

android {
    namespace = "dev.hitkit"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        // 26: the generated bindings use java.time (Hit.creationDate is an Instant), which
        // Android has from API 26. Apps down to 24 can use core library desugaring (README).
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].apply {
        kotlin.srcDir("../src/main/kotlin")
        kotlin.srcDir("src/main/kotlin") // Android-only: ConnectivityMonitor
        jniLibs.srcDir(layout.buildDirectory.dir("jniLibs"))
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }

    buildTypes {
        release { isMinifyEnabled = false } // consumers shrink; consumer-rules.pro keeps what JNA needs
    }

    publishing {
        singleVariant("release") { withSourcesJar() }
    }
}

dependencies {
    // `api`, so the pom declares them as compile dependencies, as the JVM jar's pom does: the
    // public API shows their types (the generated JNA Structures; Flow from events()).
    // @aar: the Android flavour of JNA, which carries libjnidispatch.so for every ABI.
    api("net.java.dev.jna:jna:5.15.0@aar")
    // Coroutines: the suspend functions (flush, dispatchAndWait) and Tracker.events().
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
}

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "dev.hitkit"
            artifactId = "hitkit-android"
            version = hitkitVersion
            // The release component exists once AGP has configured the variants.
            afterEvaluate { from(components["release"]) }
        }
    }
    repositories {
        maven {
            name = "hitkit"
            url = uri(rootDir.resolve("../../build/maven"))
        }
    }
}

// libhitkit.so for arm64-v8a, armeabi-v7a and x86_64, via cargo-ndk, into build/jniLibs/<abi>/.
val cargoNdk by tasks.registering(Exec::class) {
    val repo = rootDir.resolve("../..").canonicalFile
    workingDir = repo
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", "26",
        "-o", layout.buildDirectory.dir("jniLibs").get().asFile.absolutePath,
        // quiet-dependencies: the dependencies' log lines compiled out (the app's
        // build is HitKit's alone, so the feature touches nothing else).
        "build", "--release", "-p", "hitkit", "--features", "quiet-dependencies",
    )
    inputs.dir(repo.resolve("src"))
    inputs.file(repo.resolve("Cargo.toml"))
    outputs.dir(layout.buildDirectory.dir("jniLibs"))
}
tasks.named("preBuild") { dependsOn(cargoNdk) }
