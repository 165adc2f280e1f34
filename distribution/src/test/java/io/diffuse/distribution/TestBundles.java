package io.diffuse.distribution;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Where the integration tests find the real bundles: the assembled distribution
 * ({@code target/diffuse}, built in the package phase before failsafe runs) and the test-only
 * third-party bundle ({@code target/it-bundles}, copied from the itest-allgather module; never shipped).
 */
final class TestBundles {
    private TestBundles() {
    }

    /** The assembled product folder. */
    static Path dist() {
        return Path.of(require("itest.dist"));
    }

    /** Every jar the product ships in bundles/. */
    static List<Path> shipped() {
        try (Stream<Path> s = Files.list(dist().resolve("bundles"))) {
            return s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The shipped bundle whose file name starts with {@code prefix}, e.g. "plugin-usp". */
    static Path shipped(String prefix) {
        return shipped().stream().filter(p -> p.getFileName().toString().startsWith(prefix)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no shipped bundle " + prefix + "* in " + dist()));
    }

    /** The test-only third-party bundle: the "allgather" strategy, written against engine-api alone. */
    static Path thirdParty() {
        return Path.of(require("itest.bundles"), "itest-allgather.jar");
    }

    /** Bundle-SymbolicName of a bundle jar. */
    static String symbolicName(Path jar) {
        try (JarFile f = new JarFile(jar.toFile())) {
            return f.getManifest().getMainAttributes().getValue("Bundle-SymbolicName").split(";")[0].trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String require(String property) {
        String v = System.getProperty(property);
        if (v == null) {
            throw new IllegalStateException("system property " + property + " is not set; run the integration tests through"
                    + " Maven (mvn verify -pl distribution -am)");
        }
        return v;
    }
}
