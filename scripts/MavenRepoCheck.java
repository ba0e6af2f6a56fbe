// scripts/MavenRepoCheck.java — checks the Maven-layout repository scripts/maven-repo.sh writes
// (run as a single-file program: `java scripts/MavenRepoCheck.java REPO GROUP ARTIFACT VERSION
// [GROUP:ARTIFACT:VERSION]...`, the dependencies the pom must declare, in order).
//
// Checks: every file is where Maven and Gradle look for it; the pom and maven-metadata.xml are
// well-formed XML (parsed namespace-aware, errors fatal) in the POM 4.0.0 namespace, with these
// coordinates, packaging `jar` and exactly these dependencies; the jar holds the bindings'
// classes and a libhitkit for JNA, the sources jar the Kotlin sources; each .md5 and .sha1 is
// the file's. Exits 1 with the reasons on stderr.
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXParseException;

public class MavenRepoCheck {
    static final String POM_NS = "http://maven.apache.org/POM/4.0.0";
    static final List<String> problems = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: MavenRepoCheck REPO GROUP ARTIFACT VERSION [G:A:V]...");
            System.exit(2);
        }
        Path repo = Paths.get(args[0]);
        String group = args[1], artifact = args[2], version = args[3];
        List<String> deps = List.of(args).subList(4, args.length);

        Path dir = repo.resolve(group.replace('.', '/')).resolve(artifact);
        Path versionDir = dir.resolve(version);
        String base = artifact + "-" + version;
        Path jar = versionDir.resolve(base + ".jar");
        Path sources = versionDir.resolve(base + "-sources.jar");
        Path pom = versionDir.resolve(base + ".pom");
        Path metadata = dir.resolve("maven-metadata.xml");

        for (Path file : List.of(jar, sources, pom, metadata)) {
            if (!Files.isRegularFile(file)) {
                problems.add("missing " + file);
                continue;
            }
            checkDigest(file, "MD5", ".md5");
            checkDigest(file, "SHA-1", ".sha1");
        }
        if (problems.isEmpty()) {
            checkPom(parse(pom), group, artifact, version, deps);
            checkMetadata(parse(metadata), group, artifact, version);
            checkEntries(jar, "dev/hitkit/Tracker.class", "dev/hitkit/HitKitExtensions.class", "/libhitkit.so");
            checkEntries(sources, "dev/hitkit/hitkit.kt", "dev/hitkit/HitKitExtensions.kt");
        }
        if (!problems.isEmpty()) {
            problems.forEach(p -> System.err.println("MavenRepoCheck: " + p));
            System.exit(1);
        }
        System.out.println("MavenRepoCheck: OK " + group + ":" + artifact + ":" + version + " in " + repo);
    }

    /** Namespace-aware; a well-formedness error is fatal (null document, reported). */
    static Document parse(Path file) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        var builder = factory.newDocumentBuilder();
        builder.setErrorHandler(new ErrorHandler() {
            public void warning(SAXParseException e) {}
            public void error(SAXParseException e) throws SAXParseException { throw e; }
            public void fatalError(SAXParseException e) throws SAXParseException { throw e; }
        });
        try {
            return builder.parse(file.toFile());
        } catch (SAXParseException e) {
            problems.add(file + ":" + e.getLineNumber() + ": not well-formed: " + e.getMessage());
            return null;
        }
    }

    static void checkPom(Document doc, String group, String artifact, String version, List<String> deps) {
        if (doc == null) return;
        Element project = doc.getDocumentElement();
        if (!"project".equals(project.getLocalName()) || !POM_NS.equals(project.getNamespaceURI())) {
            problems.add("pom: the root is not <project> in " + POM_NS);
            return;
        }
        expect("pom modelVersion", "4.0.0", child(project, "modelVersion"));
        expect("pom groupId", group, child(project, "groupId"));
        expect("pom artifactId", artifact, child(project, "artifactId"));
        expect("pom version", version, child(project, "version"));
        expect("pom packaging", "jar", child(project, "packaging"));
        List<String> declared = new ArrayList<>();
        NodeList list = project.getElementsByTagNameNS(POM_NS, "dependency");
        for (int i = 0; i < list.getLength(); i++) {
            Element dep = (Element) list.item(i);
            String scope = child(dep, "scope");
            if (scope != null && !scope.equals("compile") && !scope.equals("runtime")) {
                problems.add("pom: dependency " + child(dep, "artifactId") + " has scope " + scope);
            }
            declared.add(child(dep, "groupId") + ":" + child(dep, "artifactId") + ":" + child(dep, "version"));
        }
        if (!declared.equals(deps)) problems.add("pom dependencies: " + declared + ", expected " + deps);
    }

    static void checkMetadata(Document doc, String group, String artifact, String version) {
        if (doc == null) return;
        Element root = doc.getDocumentElement();
        if (!"metadata".equals(root.getLocalName())) problems.add("maven-metadata.xml: the root is not <metadata>");
        expect("metadata groupId", group, child(root, "groupId"));
        expect("metadata artifactId", artifact, child(root, "artifactId"));
        NodeList versioning = root.getElementsByTagName("versioning");
        if (versioning.getLength() != 1) {
            problems.add("maven-metadata.xml: no <versioning>");
            return;
        }
        Element v = (Element) versioning.item(0);
        expect("metadata release", version, child(v, "release"));
        expect("metadata latest", version, child(v, "latest"));
    }

    /** Each wanted name must be an entry of the zip (a name starting with "/": an entry ending so). */
    static void checkEntries(Path zip, String... wanted) throws IOException {
        try (ZipFile file = new ZipFile(zip.toFile())) {
            List<String> names = file.stream().map(ZipEntry::getName).toList();
            for (String name : wanted) {
                boolean found = name.startsWith("/") ? names.stream().anyMatch(n -> n.endsWith(name)) : names.contains(name);
                if (!found) problems.add(zip.getFileName() + ": no entry " + name);
            }
        } catch (java.util.zip.ZipException e) {
            problems.add(zip + ": not a zip: " + e.getMessage());
        }
    }

    static void checkDigest(Path file, String algorithm, String suffix) throws Exception {
        Path sum = file.resolveSibling(file.getFileName() + suffix);
        if (!Files.isRegularFile(sum)) {
            problems.add("missing " + sum);
            return;
        }
        MessageDigest digest = MessageDigest.getInstance(algorithm);
        try (InputStream in = Files.newInputStream(file)) {
            digest.update(in.readAllBytes());
        }
        String want = HexFormat.of().formatHex(digest.digest());
        String got = Files.readString(sum).trim();
        if (!want.equals(got)) problems.add(sum + ": " + got + ", the file's is " + want);
    }

    /** The text of the first direct child named `name` (any namespace), or null. */
    static String child(Element parent, String name) {
        for (var n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && name.equals(e.getLocalName())) return e.getTextContent().trim();
        }
        return null;
    }

    static void expect(String what, String want, String got) {
        if (!want.equals(got)) problems.add(what + ": " + got + ", expected " + want);
    }
}
