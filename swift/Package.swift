// swift-tools-version:5.9
// HitKit — offline-first analytics hits, one Rust engine (libhitkit) behind a Swift API.
//
// Linux: `hitkitFFI` is a system-library target (Sources/hitkitFFI/module.modulemap links
//        `libhitkit`); pass the directory of libhitkit.so to the linker, e.g.
//        swift test --disable-swift-testing -Xlinker -L/abs/dir -Xlinker -rpath -Xlinker /abs/dir
//        (scripts/test-swift.sh does all of it).
// Apple: `hitkitFFI` is HitKitFFI.xcframework (static libhitkit.a per platform + the same
//        header), built on a Mac by ./build-xcframework.sh — not built here (no Xcode on Linux).
import PackageDescription

#if os(Linux)
let ffiTarget: Target = .systemLibrary(name: "hitkitFFI", path: "Sources/hitkitFFI")
#else
let ffiTarget: Target = .binaryTarget(name: "hitkitFFI", path: "HitKitFFI.xcframework")
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
        // HitKit.swift is generated (scripts/bindings.sh); HitKit+Idiom.swift is hand-written.
        .target(name: "HitKit", dependencies: ["hitkitFFI"], path: "Sources/HitKit"),
        .testTarget(name: "HitKitTests", dependencies: ["HitKit"], path: "Tests/HitKitTests"),
    ]
)
