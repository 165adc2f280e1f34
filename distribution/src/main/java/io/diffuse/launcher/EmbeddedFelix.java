package io.diffuse.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceObjects;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.util.tracker.ServiceTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Felix embedded in this process: storage in a fresh temporary folder {@code diffuse-felix-<pid>-*}
 * (several rank JVMs may run at once; each gets its own, removed at close and by a shutdown hook;
 * FileInstall's own temporary files live inside it; folders of processes that no longer exist, left
 * by a killed rank or launcher, are removed at start and at close), the class path's native presets, picocli and SLF4J
 * exported from the system bundle, every jar of {@code bundles/} installed and started, and
 * FileInstall watching {@code deploy/} for bundles and {@code .cfg} files.
 */
public final class EmbeddedFelix implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedFelix.class);
    /** The CLI service the engine-core bundle registers. */
    static final String CLI_FILTER = "(&(" + Constants.OBJECTCLASS + "=" + CommandLine.class.getName() + ")(diffuse.cli=root))";
    private static final String FILEINSTALL = "org.apache.felix.fileinstall";
    /** Name prefix of the storage folders; the owning pid follows (see {@link OwnedTempFolders}). */
    static final String STORAGE_PREFIX = "diffuse-felix-";

    private final Framework framework;
    private final Path storage;
    private final Thread cleanup;

    private EmbeddedFelix(Framework framework, Path storage) {
        this.framework = framework;
        this.storage = storage;
        // If the JVM exits without close() (Ctrl-C), still remove the storage folder.
        this.cleanup = new Thread(() -> deleteTree(storage), "diffuse-felix-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /**
     * Starts the framework.
     *
     * @param bundles folder whose jars are installed and started (FileInstall last)
     * @param deploy folder FileInstall watches, or null for none
     * @param extra further framework properties (e.g. io.diffuse.home, io.diffuse.rank.command)
     */
    public static EmbeddedFelix start(Path bundles, Path deploy, Map<String, String> extra) {
        if (!Files.isDirectory(bundles)) {
            throw new LauncherException("bundle folder " + bundles + " does not exist; is io.diffuse.home right?");
        }
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        OwnedTempFolders.removeOrphans(tmp, STORAGE_PREFIX);
        Path storage;
        try {
            storage = OwnedTempFolders.create(tmp, STORAGE_PREFIX);
        } catch (IOException e) {
            throw new LauncherException("cannot create the framework storage folder in " + System.getProperty("java.io.tmpdir")
                    + ": " + e.getMessage());
        }
        Map<String, Object> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        props.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA, SystemPackages.exports());
        props.put("felix.log.logger", new FelixLogger());
        props.put("felix.log.level", "2");
        props.put("ds.loglevel", "warn");
        if (deploy != null) {
            props.put("felix.fileinstall.dir", deploy.toAbsolutePath().toString());
            props.put("felix.fileinstall.noInitialDelay", "true");
            props.put("felix.fileinstall.poll", "1000");
            // Inside the storage folder, so it goes with it (FileInstall's default is a fileinstall-* folder in java.io.tmpdir).
            props.put("felix.fileinstall.tmpdir", storage.resolve("fileinstall").toString());
            // Ranks share deploy/: none of them may write ConfigAdmin changes back into it.
            props.put("felix.fileinstall.enableConfigSave", "false");
            props.put("felix.fileinstall.log.default", "jul");
            // FileInstall's own messages are multi-line traces on every start; `diffuse info` reports each
            // bundle that failed to install or resolve in one line instead (BundleProblems).
            props.put("felix.fileinstall.log.level", "0");
        }
        props.putAll(extra);
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new LauncherException("no OSGi framework on the class path (lib/ must hold the Felix jar)"));
        @SuppressWarnings({"unchecked", "rawtypes"})
        Framework framework = factory.newFramework((Map) props);
        EmbeddedFelix felix = new EmbeddedFelix(framework, storage);
        try {
            framework.start();
            felix.installAndStart(bundles);
        } catch (BundleException | RuntimeException e) {
            felix.close();
            if (e instanceof LauncherException le) {
                throw le;
            }
            throw new LauncherException("cannot start the OSGi framework: " + e.getMessage(), e);
        }
        return felix;
    }

    private void installAndStart(Path folder) throws BundleException {
        BundleContext context = framework.getBundleContext();
        List<Bundle> installed = new ArrayList<>();
        for (Path jar : jars(folder)) {
            installed.add(context.installBundle(jar.toUri().toString()));
        }
        // FileInstall last, so the engine's services are up when it installs deploy/ and feeds .cfg files to ConfigAdmin.
        installed.sort(Comparator.comparing(b -> FILEINSTALL.equals(b.getSymbolicName())));
        for (Bundle b : installed) {
            if ((b.adapt(BundleRevision.class).getTypes() & BundleRevision.TYPE_FRAGMENT) == 0) {
                try {
                    b.start();
                } catch (BundleException e) {
                    throw new LauncherException("bundle " + b.getSymbolicName() + " (" + b.getLocation() + ") does not start: "
                            + e.getMessage(), e);
                }
            }
        }
    }

    private static List<Path> jars(Path folder) {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new LauncherException("cannot list " + folder + ": " + e.getMessage(), e);
        }
    }

    /** The framework's bundle context. */
    public BundleContext context() {
        return framework.getBundleContext();
    }

    /** A CLI lent by the engine-core bundle; give it back with {@link Cli#close()}. */
    public Cli awaitCli(Duration timeout) {
        BundleContext context = context();
        ServiceTracker<CommandLine, CommandLine> tracker;
        try {
            tracker = new ServiceTracker<>(context, FrameworkUtil.createFilter(CLI_FILTER), null);
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        tracker.open();
        try {
            if (tracker.waitForService(timeout.toMillis()) == null) {
                throw new LauncherException("the engine's command line did not appear within " + timeout.toSeconds()
                        + "s (-Dio.diffuse.launcher.timeout); bundles not active: " + inactiveBundles());
            }
            ServiceReference<CommandLine> ref = tracker.getServiceReference();
            ServiceObjects<CommandLine> objects = context.getServiceObjects(ref);
            return new Cli(objects, objects.getService());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LauncherException("interrupted while waiting for the engine's command line");
        } finally {
            tracker.close();
        }
    }

    private List<String> inactiveBundles() {
        List<String> out = new ArrayList<>();
        for (Bundle b : context().getBundles()) {
            boolean fragment = (b.adapt(BundleRevision.class).getTypes() & BundleRevision.TYPE_FRAGMENT) != 0;
            if (b.getState() != Bundle.ACTIVE && !fragment) {
                out.add(b.getSymbolicName() + " (" + state(b.getState()) + ")");
            }
        }
        return out;
    }

    private static String state(int state) {
        return switch (state) {
            case Bundle.INSTALLED -> "installed, not resolved";
            case Bundle.RESOLVED -> "resolved";
            case Bundle.STARTING -> "starting";
            case Bundle.STOPPING -> "stopping";
            default -> "state " + state;
        };
    }

    /** A fresh command tree from the CLI service, returned to it on close. */
    public record Cli(ServiceObjects<CommandLine> objects, CommandLine commandLine) implements AutoCloseable {
        @Override
        public void close() {
            objects.ungetService(commandLine);
        }
    }

    /** Stops the framework (bounded) and removes its storage. */
    @Override
    public void close() {
        try {
            framework.stop();
            if (framework.waitForStop(30_000).getType() == org.osgi.framework.FrameworkEvent.WAIT_TIMEDOUT) {
                LOG.warn("the OSGi framework did not stop within 30s");
            }
        } catch (BundleException e) {
            LOG.warn("stopping the OSGi framework failed: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            deleteTree(storage);
            // Ranks this process launched and that were killed could not remove their own.
            OwnedTempFolders.removeOrphans(storage.getParent(), STORAGE_PREFIX);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // Already exiting: the hook runs anyway.
            }
        }
    }

    static void deleteTree(Path root) {
        OwnedTempFolders.deleteTree(root);
    }
}
