// swift-tools-version:5.9
// HitKit — offline-first analytics hits, one Rust engine (libhitkit) behind a Swift API.
//
// At the repository root because SwiftPM only reads a package's manifest there: apps add
// HitKit by URL (`.package(url: "https://…/hitkit.git", from: "0.1.0")`, product "HitKit").
// The sources stay under swift/ (see swift/README.md); this is the package's only manifest.
//
// Linux: `hitkitFFI` is a system-library target (swift/Sources/hitkitFFI/module.modulemap
//        links `libhitkit`); pass the directory of libhitkit.so to the linker, e.g.
//        swift test --disable-swift-testing -Xlinker -L/abs/dir -Xlinker -rpath -Xlinker /abs/dir
//        (scripts/test-swift.sh does all of it, with the build in build/swift).
// Apple: `hitkitFFI` is HitKitFFI.xcframework (static libhitkit.a per platform + the same
//        headers), built on a Mac by swift/build-xcframework.sh — not built here (no Xcode on
//        Linux). A release sets `releasedFFI` to the zipped XCFramework's URL and checksum
//        (`swift package compute-checksum`), so apps installing by URL need no Rust; without it
//        the manifest uses a local swift/HitKitFFI.xcframework.
import PackageDescription

/// The released XCFramework: nil on a development branch.
let releasedFFI: (url: String, checksum: String)? = nil

#if os(Linux)
let ffiTarget: Target = .systemLibrary(name: "hitkitFFI", path: "swift/Sources/hitkitFFI")
#else
let ffiTarget: Target = releasedFFI.map { .binaryTarget(name: "hitkitFFI", url: $0.url, checksum: $0.checksum) }
    ?? .binaryTarget(name: "hitkitFFI", path: "swift/HitKitFFI.xcframework")
#endif

let package = Package(
    name: "HitKit",
    // async/await (dispatchAndWait, flush) back-deploys to these.
    platforms: [.iOS(.v13), .macOS(.v10_15), .tvOS(.v13), .watchOS(.v6)],
    products: [
        .library(name: "HitKit", targets: ["HitKit"]),
    ],
    targets: [
        ffiTarget,
        // HitKit.swift is generated (scripts/bindings.sh); the HitKit+*.swift files are hand-written.
        .target(
            name: "HitKit",
            dependencies: ["hitkitFFI"],
            path: "swift/Sources/HitKit",
            // What HitKit collects, for the app's privacy report (App Store).
            resources: [.copy("PrivacyInfo.xcprivacy")]
        ),
        .testTarget(name: "HitKitTests", dependencies: ["HitKit"], path: "swift/Tests/HitKitTests"),
    ]
)
