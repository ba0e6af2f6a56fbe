// HitKit Android library (AAR) — NOT BUILT HERE: this machine has no Android NDK/SDK and
// cannot reach Gradle's servers or Maven Central. Written from the Android Gradle Plugin and
// cargo-ndk documentation; expect small fixes on the first real run.
//
// Build (needs the Android SDK + NDK, Rust with the Android targets, and cargo-ndk):
//   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
//   cargo install cargo-ndk
//   cd kotlin/android && gradle assembleRelease        (or ./gradlew after `gradle wrapper`)
//
// Sources: the same Kotlin as the JVM jar (../src/main/kotlin: the generated hitkit.kt and
// HitKitExtensions.kt), plus src/main/kotlin (ConnectivityMonitor, Android only); native libraries: libhitkit.so per ABI, built by the
// `cargoNdk` task below into build/jniLibs/<abi>/ and packaged by AGP.
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
}

android {
    namespace = "dev.hitkit"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = 24
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
}

dependencies {
    // @aar: the Android flavour of JNA, which carries libjnidispatch.so for every ABI.
    implementation("net.java.dev.jna:jna:5.15.0@aar")
    // The generated bindings use coroutines for the async functions (flush, dispatchAndWait).
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
}

// libhitkit.so for arm64-v8a, armeabi-v7a and x86_64, via cargo-ndk, into build/jniLibs/<abi>/.
val cargoNdk by tasks.registering(Exec::class) {
    val repo = rootDir.resolve("../..").canonicalFile
    workingDir = repo
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", "24",
        "-o", layout.buildDirectory.dir("jniLibs").get().asFile.absolutePath,
        "build", "--release", "-p", "hitkit",
    )
    inputs.dir(repo.resolve("src"))
    inputs.file(repo.resolve("Cargo.toml"))
    outputs.dir(layout.buildDirectory.dir("jniLibs"))
}
tasks.named("preBuild") { dependsOn(cargoNdk) }
