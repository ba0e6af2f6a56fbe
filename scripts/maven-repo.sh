#!/usr/bin/env bash
# scripts/maven-repo.sh — the JVM jar as a Maven-layout local repository, which a Gradle or Maven
# build can point at (`maven { url = uri(".../build/maven") }`), then checks what it wrote.
#
# Usage: scripts/maven-repo.sh [JAR]     (default build/kotlin/hitkit.jar; run by `make jar`,
#                                         i.e. scripts/test-kotlin.sh --jar, right after the jar)
# Writes build/maven/dev/hitkit/hitkit/:
#   maven-metadata.xml
#   VERSION/hitkit-VERSION.jar           the jar as built (classes + linux-x86-64/libhitkit.so)
#   VERSION/hitkit-VERSION-sources.jar   kotlin/src/main/kotlin (generated bindings + hand-written)
#   VERSION/hitkit-VERSION.pom           dependencies: JNA, kotlinx-coroutines-core-jvm and
#                                        kotlin-stdlib, at the versions of the toolchain's jars
#   and a .md5 and .sha1 beside each file, as Maven expects.
# VERSION is Cargo.toml's. The check: xmllint --noout on the XML when it is installed, then
# scripts/MavenRepoCheck.java (files present, XML well-formed, coordinates and dependencies as
# written, jars readable with the expected entries, checksums right).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR="${1:-$ROOT/build/kotlin/hitkit.jar}"
REPO="$ROOT/build/maven"
log() { printf '[maven] %s\n' "$*" >&2; }
cd "$ROOT"
[ -f "$JAR" ] || { log "missing $JAR (run make jar)"; exit 1; }
# shellcheck disable=SC1091
. "${HITKIT_TOOLCHAINS:-${HOME:-/root}/.cache/hitkit-toolchains}/kotlin.env"

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
DESCRIPTION="$(sed -n 's/^description = "\(.*\)"/\1/p' Cargo.toml | head -1 | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')"

# The versions of the jars the toolchain compiles and tests against.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/hitkit-maven.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
manifest_value() {   # manifest_value JAR KEY: a main-section value of JAR's manifest
    rm -rf "$TMP/m"; mkdir "$TMP/m"
    (cd "$TMP/m" && jar xf "$1" META-INF/MANIFEST.MF)
    sed -n "s/^$2: *\([^ ]*\).*/\1/p" "$TMP/m/META-INF/MANIFEST.MF" | tr -d '\r' | head -1
}
JNA_VERSION="$(manifest_value "$JNA_JAR" Bundle-Version)"
STDLIB_VERSION="$(manifest_value "$KOTLIN_LIB/kotlin-stdlib.jar" Implementation-Version)"
(cd "$TMP" && jar xf "$KOTLIN_LIB/kotlinx-coroutines-core-jvm.jar" META-INF/kotlinx_coroutines_core.version)
COROUTINES_VERSION="$(tr -d '[:space:]' <"$TMP/META-INF/kotlinx_coroutines_core.version")"
for v in VERSION JNA_VERSION STDLIB_VERSION COROUTINES_VERSION; do
    [ -n "${!v}" ] || { log "could not read $v"; exit 1; }
done
DEPS=(
    "net.java.dev.jna:jna:$JNA_VERSION"
    "org.jetbrains.kotlinx:kotlinx-coroutines-core-jvm:$COROUTINES_VERSION"
    "org.jetbrains.kotlin:kotlin-stdlib:$STDLIB_VERSION"
)

ART="$REPO/dev/hitkit/hitkit"
DIR="$ART/$VERSION"
rm -rf "$ART"
mkdir -p "$DIR"
base="$DIR/hitkit-$VERSION"

cp "$JAR" "$base.jar"
# Sorted entries and a fixed date, as for the jar: the same sources give the same bytes.
(cd kotlin/src/main/kotlin && mapfile -t entries < <(find dev -type f -name '*.kt' | LC_ALL=C sort) &&
    jar --create --date 2000-01-01T00:00:02Z --no-manifest --file "$base-sources.jar" "${entries[@]}")

{
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.hitkit</groupId>
  <artifactId>hitkit</artifactId>
  <version>$VERSION</version>
  <packaging>jar</packaging>
  <name>HitKit</name>
  <description>$DESCRIPTION. JVM jar; carries libhitkit for the platform it was built on.</description>
  <licenses>
    <license>
      <name>Apache-2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0</url>
    </license>
  </licenses>
  <dependencies>
EOF
    # Compile scope: the API shows JNA types (the generated Structures) and coroutines (Flow).
    for dep in "${DEPS[@]}"; do
        IFS=: read -r g a v <<<"$dep"
        printf '    <dependency>\n      <groupId>%s</groupId>\n      <artifactId>%s</artifactId>\n      <version>%s</version>\n    </dependency>\n' "$g" "$a" "$v"
    done
    printf '  </dependencies>\n</project>\n'
} >"$base.pom"

updated="$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null || date -u +%Y%m%d%H%M%S)"
cat >"$ART/maven-metadata.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>dev.hitkit</groupId>
  <artifactId>hitkit</artifactId>
  <versioning>
    <latest>$VERSION</latest>
    <release>$VERSION</release>
    <versions>
      <version>$VERSION</version>
    </versions>
    <lastUpdated>$updated</lastUpdated>
  </versioning>
</metadata>
EOF

for f in "$base.jar" "$base-sources.jar" "$base.pom" "$ART/maven-metadata.xml"; do
    md5sum "$f" | cut -d' ' -f1 | tr -d '\n' >"$f.md5"
    sha1sum "$f" | cut -d' ' -f1 | tr -d '\n' >"$f.sha1"
done

# ---- check ------------------------------------------------------------------------------
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$base.pom" "$ART/maven-metadata.xml"
    log "xmllint: well-formed"
fi
java "$ROOT/scripts/MavenRepoCheck.java" "$REPO" dev.hitkit hitkit "$VERSION" "${DEPS[@]}" </dev/null >&2
log "build/maven/dev/hitkit/hitkit/$VERSION: jar, sources, pom (${DEPS[*]})"
