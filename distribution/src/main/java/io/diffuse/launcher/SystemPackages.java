package io.diffuse.launcher;

import java.io.File;
import java.io.IOException;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The packages the system bundle exports to bundles ({@code org.osgi.framework.system.packages.extra}):
 * every package with classes under the given prefixes found in the class-path jars (the native
 * presets {@code org.bytedeco.*} with all their sub-packages, picocli, SLF4J, DJL's HF tokenizers
 * (JNI, used by plugin-hunyuan15), and the serve command's Jetty, Jackson and Micrometer), each with the version
 * of its jar. Native jars stay on the class path because libtorch is loaded once per process; the
 * bundles see them through these exports.
 */
public final class SystemPackages {
    /** Package prefixes the launcher exports from its class path. */
    public static final List<String> PREFIXES = List.of("org.bytedeco.", "picocli", "org.slf4j", "ai.djl.",
            // diffuse serve's HTTP server, JSON and metrics libraries
            "org.eclipse.jetty.", "com.fasterxml.jackson.", "io.micrometer.", "io.prometheus.");

    private static final Pattern LEADING_VERSION = Pattern.compile("^(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(.*)$");

    private SystemPackages() {
    }

    /** Exports for this JVM's class path. */
    public static String exports() {
        return exports(System.getProperty("java.class.path"), PREFIXES);
    }

    /** {@code package;version=x} clauses, comma separated, for the jars of {@code classPath}. */
    public static String exports(String classPath, List<String> prefixes) {
        return String.join(",", scan(classPath, prefixes).entrySet().stream()
                .map(e -> e.getKey() + ";version=\"" + e.getValue() + "\"").toList());
    }

    /** Package name to OSGi version, for the jars of {@code classPath}. */
    public static Map<String, String> scan(String classPath, List<String> prefixes) {
        Map<String, String> packages = new TreeMap<>();
        for (String entry : classPath.split(File.pathSeparator)) {
            File file = new File(entry);
            if (!file.isFile() || !entry.endsWith(".jar")) {
                continue;
            }
            try (JarFile jar = new JarFile(file)) {
                String version = null;
                for (Enumeration<JarEntry> en = jar.entries(); en.hasMoreElements(); ) {
                    String name = en.nextElement().getName();
                    int slash = name.lastIndexOf('/');
                    if (!name.endsWith(".class") || slash < 0 || name.startsWith("META-INF/")) {
                        continue;
                    }
                    String pkg = name.substring(0, slash).replace('/', '.');
                    if (!matches(pkg, prefixes) || packages.containsKey(pkg)) {
                        continue;
                    }
                    if (version == null) {
                        version = osgiVersion(jar.getManifest());
                    }
                    packages.put(pkg, version);
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot read class-path jar " + file + ": " + e.getMessage(), e);
            }
        }
        return packages;
    }

    private static boolean matches(String pkg, List<String> prefixes) {
        for (String prefix : prefixes) {
            if (pkg.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /** The jar's Bundle-Version, else its Implementation-Version made OSGi-legal ({@code 2.10.0-1.5.13} -> {@code 2.10.0.1_5_13}). */
    static String osgiVersion(Manifest manifest) {
        if (manifest == null) {
            return "0.0.0";
        }
        String v = manifest.getMainAttributes().getValue("Bundle-Version");
        if (v == null) {
            v = manifest.getMainAttributes().getValue("Implementation-Version");
        }
        return v == null ? "0.0.0" : toOsgi(v.trim());
    }

    static String toOsgi(String version) {
        Matcher m = LEADING_VERSION.matcher(version);
        if (!m.matches()) {
            return "0.0.0";
        }
        String major = m.group(1);
        String minor = m.group(2) == null ? "0" : m.group(2);
        String micro = m.group(3) == null ? "0" : m.group(3);
        String qualifier = m.group(4).replaceFirst("^[-.]", "").replaceAll("[^A-Za-z0-9_-]", "_");
        return major + "." + minor + "." + micro + (qualifier.isEmpty() ? "" : "." + qualifier);
    }
}
