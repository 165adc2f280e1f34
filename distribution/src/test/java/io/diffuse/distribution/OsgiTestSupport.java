package io.diffuse.distribution;

import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemPackages;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.engine.Engine;
import io.diffuse.core.registry.PluginRegistry;
import io.diffuse.launcher.OwnedTempFolders;
import io.diffuse.launcher.SystemPackages;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import javax.inject.Inject;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceObjects;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.service.cm.ConfigurationAdmin;
import picocli.CommandLine;

/**
 * One Felix per test class (Pax Exam native container, {@code PerClass}) with the product's real
 * bundles from the assembled {@code target/diffuse/bundles}, the host's natives, picocli and SLF4J
 * exported from the system bundle exactly as the launcher does, and FileInstall watching a fresh
 * deploy folder.
 */
public abstract class OsgiTestSupport {
    static final Duration WAIT = Duration.ofSeconds(20);
    static final String DEPLOY_PREFIX = "diffuse-it-deploy-";

    @Inject
    protected BundleContext context;

    @Inject
    protected ConfigurationAdmin configAdmin;

    @Inject
    protected PluginRegistry registry;

    @Inject
    protected Engine engine;

    @Configuration
    public Option[] config() throws IOException {
        Path deploy = deployFolder();
        List<Option> options = new ArrayList<>();
        Map<String, String> exports = SystemPackages.scan(System.getProperty("java.class.path"), SystemPackages.PREFIXES);
        options.add(systemPackages(exports.entrySet().stream()
                .map(e -> e.getKey() + ";version=\"" + e.getValue() + "\"").toArray(String[]::new)));
        for (Path jar : TestBundles.shipped()) {
            if (!jar.getFileName().toString().startsWith("org.apache.felix.fileinstall")) {
                options.add(bundle(jar.toUri().toString()));
            }
        }
        // FileInstall last, as the launcher does.
        options.add(bundle(TestBundles.shipped("org.apache.felix.fileinstall").toUri().toString()));
        options.add(frameworkProperty("felix.fileinstall.dir").value(deploy.toString()));
        options.add(frameworkProperty("felix.fileinstall.poll").value("200"));
        options.add(frameworkProperty("felix.fileinstall.noInitialDelay").value("true"));
        options.add(frameworkProperty("felix.fileinstall.enableConfigSave").value("false"));
        options.add(frameworkProperty("felix.fileinstall.log.default").value("jul"));
        options.add(frameworkProperty("felix.fileinstall.log.level").value("2"));
        options.add(frameworkProperty("ds.loglevel").value("warn"));
        options.add(systemProperty("org.bytedeco.javacpp.nopointergc").value("true"));
        options.add(junitBundles());
        options.add(cleanCaches(true));
        options.addAll(List.of(extraOptions()));
        return options.toArray(Option[]::new);
    }

    /**
     * A fresh deploy folder {@code diffuse-it-deploy-<pid>-*}, removed when this JVM exits; those of
     * earlier test JVMs that are gone (killed, crashed) are removed now.
     */
    static Path deployFolder() throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        OwnedTempFolders.removeOrphans(tmp, DEPLOY_PREFIX);
        Path deploy = OwnedTempFolders.create(tmp, DEPLOY_PREFIX);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OwnedTempFolders.deleteTree(deploy), "diffuse-it-deploy-cleanup"));
        return deploy;
    }

    /** Further options of a test class (e.g. a bundle installed at boot). */
    protected Option[] extraOptions() {
        return new Option[0];
    }

    /** The folder FileInstall watches in this framework. */
    protected Path deployDir() {
        return Path.of(context.getProperty("felix.fileinstall.dir"));
    }

    /** Sets (or with {@code null} deletes) the engine's ConfigAdmin configuration. */
    protected void configureEngine(Map<String, String> properties) throws IOException {
        org.osgi.service.cm.Configuration c = configAdmin.getConfiguration(Engine.PID, "?");
        if (properties == null) {
            c.delete();
            return;
        }
        Dictionary<String, Object> d = new Hashtable<>(properties);
        c.update(d);
    }

    /** Runs {@code args} on a fresh command tree from the CLI service; returns exit code and output. */
    protected CliRun cli(String... args) {
        ServiceReference<CommandLine> ref;
        try {
            ref = context.getServiceReferences(CommandLine.class, "(diffuse.cli=root)").stream().findFirst()
                    .orElseThrow(() -> new AssertionError("no CommandLine service (diffuse.cli=root)"));
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new AssertionError(e);
        }
        ServiceObjects<CommandLine> objects = context.getServiceObjects(ref);
        CommandLine cl = objects.getService();
        try {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            return new CliRun(code, out.toString(), err.toString());
        } finally {
            objects.ungetService(cl);
        }
    }

    /** The result of one CLI invocation. */
    protected record CliRun(int exitCode, String out, String err) {
    }

    /**
     * Work that needs the configured strategy: resolve it from the registry as installed now, check the
     * one-rank plan, and run its attention over single-rank groups on a small problem (video tokens plus
     * joint tokens with a masked key), which must equal the engine's "local" attention within 1e-5
     * (fp32, O(1) inputs; a strategy may merge blocks in another order). Returns the strategy's name.
     */
    protected String work() {
        ParallelStrategy strategy = engine.strategy();
        ParallelStrategy local = registry.strategy("local");
        ProcessGroups one = LocalGroups.create();
        strategy.validate(one.plan(), 2);
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(11);
            // (B, S, H, D) = (1, 6, 2, 4) video tokens, (1, 3, 2, 4) joint tokens, the last joint key padding.
            Tensor q = torch.randn(1, 6, 2, 4);
            Tensor k = torch.randn(1, 6, 2, 4);
            Tensor v = torch.randn(1, 6, 2, 4);
            Tensor jointMask = torch.ones(1, 3).to(torch.ScalarType.Bool);
            jointMask.narrow(1, 2, 1).fill_(new Scalar(0));
            JointTokens joint = new JointTokens(torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4), torch.randn(1, 3, 2, 4),
                    jointMask);
            AttentionOutput got = attend(strategy.create(one), q, k, v, joint);
            AttentionOutput want = attend(local.create(one), q, k, v, joint);
            double diff = Math.max(got.video().sub(want.video()).abs().max().item_double(),
                    got.joint().sub(want.joint()).abs().max().item_double());
            assertTrue(strategy.name() + " differs from local attention by " + diff, diff <= 1e-5);
        }
        return strategy.name();
    }

    private static AttentionOutput attend(SequenceParallelAttention attention, Tensor q, Tensor k, Tensor v, JointTokens joint) {
        SequenceLayout layout = attention.layout(q.size(1));
        AttentionOutput out = attention.attention(attention.shard(q, 1), attention.shard(k, 1), attention.shard(v, 1),
                joint, layout);
        return new AttentionOutput(attention.gather(out.video(), 1, layout), out.joint());
    }

    /** Installs and starts {@code jar} unless a bundle with its symbolic name is installed; returns it. */
    protected Bundle ensureInstalled(Path jar) throws Exception {
        String bsn = TestBundles.symbolicName(jar);
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName())) {
                b.start();
                return b;
            }
        }
        Bundle b = context.installBundle(jar.toUri().toString());
        b.start();
        return b;
    }

    /** Uninstalls {@code bundle} and refreshes the wiring, as an operator removing a plugin would. */
    protected void uninstall(Bundle bundle) throws Exception {
        bundle.uninstall();
        var done = new java.util.concurrent.CountDownLatch(1);
        context.getBundle(0).adapt(FrameworkWiring.class).refreshBundles(List.of(bundle), e -> done.countDown());
        if (!done.await(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)) {
            throw new AssertionError("refresh after uninstalling " + bundle.getSymbolicName() + " did not finish");
        }
    }

    /** Waits until {@code condition} holds. */
    protected static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + WAIT.toSeconds() + "s waiting for: " + what);
            }
            Thread.sleep(50);
        }
    }

    /** Whether the registry lists a strategy called {@code name}. */
    protected boolean strategyInstalled(String name) {
        return registry.strategies().stream().anyMatch(i -> i.name().equals(name));
    }
}
