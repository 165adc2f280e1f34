package io.diffuse.launcher;

import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bin/diffuse}: boots the embedded OSGi framework with the product's bundles, runs the
 * command line the engine-core bundle publishes, stops the framework and exits with the command's
 * exit code.
 *
 * <p>System properties: {@code io.diffuse.home} (installation folder; default: the parent of the
 * launcher jar's lib/), {@code io.diffuse.deploy} (hot-deploy folder; default home/deploy),
 * {@code io.diffuse.launcher.timeout} (seconds to wait for the engine to come up; default 60).
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (LauncherException e) {
            System.err.println("error: " + e.getMessage());
            code = 2;
        }
        System.exit(code);
    }

    /** Runs one command; returns its exit code. */
    public static int run(String[] args) {
        Path home = home();
        // Before Felix and any bundle load natives: the first start on a machine unpacks them under a lock.
        NativeCache.prepare();
        // A rank loads libtorch while Felix boots; the engine runs only once that is done.
        Thread preload = NativePreload.startIfRank(System.getenv());
        Path deploy = Path.of(System.getProperty("io.diffuse.deploy", home.resolve("deploy").toString())).toAbsolutePath();
        Duration timeout = Duration.ofSeconds(positiveLong("io.diffuse.launcher.timeout", 60));
        Map<String, String> props = new LinkedHashMap<>();
        props.put("io.diffuse.home", home.toString());
        props.put("io.diffuse.rank.command", String.join("\n", rankCommand()));
        props.put("io.diffuse.jvm.start", jvmStart(ManagementFactory.getRuntimeMXBean().getInputArguments()));
        try (EmbeddedFelix felix = EmbeddedFelix.start(home.resolve("bundles"), Files.isDirectory(deploy) ? deploy : null, props);
                EmbeddedFelix.Cli cli = felix.awaitCli(timeout)) {
            NativePreload.await(preload);
            return cli.commandLine().execute(args);
        } finally {
            // Never exit while the preload is inside the dynamic loader.
            NativePreload.await(preload);
        }
    }

    /**
     * How to start one more JVM of this host: same java, JVM options (so the JIT choice and the class
     * archive of bin/diffuse too), class path and main class.
     */
    static List<String> rankCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // Every rank would write the same class archive at exit; a rank uses the archive, never makes one.
            if (!option.startsWith("-XX:ArchiveClassesAtExit")) {
                cmd.add(option);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        return cmd;
    }

    /**
     * What bin/diffuse chose for this JVM's start-up (`diffuse info` shows it): the JIT tiers and the class
     * archive, from the JVM options (the last of a repeated option wins, as in HotSpot).
     */
    static String jvmStart(List<String> options) {
        String tiers = "C1 and C2";
        String archive = null;
        boolean shareOff = false;
        for (String option : options) {
            if (option.startsWith("-XX:TieredStopAtLevel=")) {
                tiers = option.endsWith("=1") || option.endsWith("=2") || option.endsWith("=3") ? "C1 only"
                        : option.endsWith("=0") ? "interpreter only" : "C1 and C2";
            } else if (option.startsWith("-XX:SharedArchiveFile=")) {
                archive = option.substring("-XX:SharedArchiveFile=".length());
            } else if (option.equals("-Xshare:off")) {
                shareOff = true;
            } else if (option.startsWith("-Xshare:")) {
                shareOff = false;
            }
        }
        String classes = shareOff ? "class sharing off" : archive == null ? "JDK class archive only"
                : "class archive " + archive;
        return tiers + ", " + classes;
    }

    static Path home() {
        String configured = System.getProperty("io.diffuse.home");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        try {
            // lib/diffuse-launcher.jar -> the installation folder
            Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent().toAbsolutePath().normalize();
        } catch (URISyntaxException | NullPointerException e) {
            throw new LauncherException("cannot tell the installation folder; set -Dio.diffuse.home=<folder with bundles/>");
        }
    }

    private static long positiveLong(String property, long fallback) {
        String value = System.getProperty(property);
        if (value == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(value.trim());
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new LauncherException("invalid -D" + property + "=" + value + ": a positive number of seconds is required");
    }
}
