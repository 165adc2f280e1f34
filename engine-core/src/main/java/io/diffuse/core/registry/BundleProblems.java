package io.diffuse.core.registry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;

/**
 * Why an installed or deployed plugin gives the engine nothing, one line each, for {@code diffuse
 * info}: a bundle that does not resolve (the framework's reason), a plugin bundle that registers no
 * service (typically declared in {@code META-INF/services} only, which OSGi does not read), a file in
 * {@code deploy/} that is not a bundle at all.
 */
public final class BundleProblems {
    private static final String[] SERVICE_TYPES = {"io.diffuse.api.model.ModelProvider", "io.diffuse.api.parallel.ParallelStrategy",
        "io.diffuse.api.vae.VaeExecutor"};

    private BundleProblems() {
    }

    /** The problems of the framework of {@code context}, with {@code deployDir} (may be null) scanned for non-bundles. */
    public static List<String> of(BundleContext context, Path deployDir) {
        List<String> problems = new ArrayList<>();
        List<String> locations = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            locations.add(b.getLocation());
            if (b.getBundleId() == 0) {
                continue;
            }
            Dictionary<String, String> headers = b.getHeaders();
            String name = b.getSymbolicName() + " " + b.getVersion() + " (" + shortLocation(b.getLocation()) + ")";
            boolean fragment = headers.get(Constants.FRAGMENT_HOST) != null;
            if (b.getState() == Bundle.INSTALLED && !fragment) {
                String reason;
                try {
                    b.start();
                    continue; // it resolves now
                } catch (BundleException | RuntimeException e) {
                    reason = oneLine(e.getMessage());
                }
                problems.add(name + ": not resolved: " + reason);
                continue;
            }
            String imports = headers.get(Constants.IMPORT_PACKAGE);
            String exports = headers.get(Constants.EXPORT_PACKAGE);
            // A plugin imports the API; the API itself (which exports it) and the core are not plugins.
            boolean plugin = imports != null && imports.contains("io.diffuse.api")
                    && (exports == null || !exports.contains("io.diffuse.api.model"))
                    && !String.valueOf(b.getSymbolicName()).startsWith("io.diffuse.core");
            if (plugin && b.getState() == Bundle.ACTIVE && (b.getRegisteredServices() == null || b.getRegisteredServices().length == 0)) {
                boolean serviceLoaderOnly = Stream.of(SERVICE_TYPES).anyMatch(t -> b.getEntry("META-INF/services/" + t) != null);
                problems.add(name + ": provides nothing: " + (serviceLoaderOnly
                        ? "its plugins are declared in META-INF/services only, which OSGi does not read; register them as"
                                + " Declarative Services components (@Component), see docs/plugins.md"
                        : "it registers no model provider, parallel strategy or VAE executor service"));
            }
        }
        if (deployDir != null && Files.isDirectory(deployDir)) {
            try (Stream<Path> files = Files.list(deployDir)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                    String file = f.getFileName().toString();
                    if (locations.stream().noneMatch(l -> l.endsWith("/" + file))) {
                        problems.add("deploy/" + file + ": not installed: " + whyNotABundle(f));
                    }
                }
            } catch (IOException e) {
                problems.add("deploy folder " + deployDir + ": cannot list: " + e.getMessage());
            }
        }
        return problems;
    }

    private static String whyNotABundle(Path jar) {
        try (JarFile f = new JarFile(jar.toFile())) {
            if (f.getManifest() == null || f.getManifest().getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME) == null) {
                return "not an OSGi bundle (no Bundle-SymbolicName in its manifest); build it with bnd, see docs/plugins.md";
            }
            return "the framework refused it (see the log)";
        } catch (IOException e) {
            return "not a jar file (" + oneLine(e.getMessage()) + ")";
        }
    }

    private static String shortLocation(String location) {
        int slash = location.lastIndexOf('/');
        return slash >= 0 ? location.substring(slash + 1) : location;
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
