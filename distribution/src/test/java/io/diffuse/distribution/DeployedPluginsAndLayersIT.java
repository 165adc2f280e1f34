package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.Test;

/**
 * The assembled product with things dropped into deploy/, run as processes as a user runs them: a
 * {@code .cfg} reaches the work of generate and comm-check (steps run, strategy checked, timeout
 * parsed); the example third-party model bundle is listed by info and generates an MP4 on 1 and 2
 * ranks through {@code --model-family}; bundles that give nothing are named by info in one line each.
 */
public class DeployedPluginsAndLayersIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");

    private record Run(int code, String out, String err, double seconds) {
        @Override
        public String toString() {
            return "exit " + code + " in " + seconds + " s\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private static Run run(Path tmp, Path deploy, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(DIFFUSE.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " -Dio.diffuse.deploy=" + deploy);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_"));
        long start = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(240, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("bin/diffuse " + String.join(" ", args) + " did not finish in 240 s");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err), (System.nanoTime() - start) / 1e9);
    }

    private static Path deployWith(Path tmp, String cfg) throws IOException {
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        if (cfg != null) {
            Files.writeString(deploy.resolve("io.diffuse.engine.cfg"), cfg);
        }
        return deploy;
    }

    @Test
    public void cfgInDeploySetsTheStepsGenerateRuns() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-it-layers-");
        Path deploy = deployWith(tmp, "diffuse.generate.num-inference-steps = 3\n");
        Run r = run(tmp, deploy, "generate", "--nproc", "1", "--height", "32", "--width", "32", "--num-frames", "5",
                "--output-tensors", tmp.resolve("t.safetensors").toString());
        assertEquals(r.toString(), 0, r.code());
        assertTrue(r.toString(), r.err().contains(" 3/3 "));
    }

    @Test
    public void cfgInDeployWithAnUnknownStrategyFailsBeforeAnyRank() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-it-layers-");
        Path deploy = deployWith(tmp, "diffuse.parallel.strategy = bogus\n");
        Run r = run(tmp, deploy, "generate", "--nproc", "2", "--output", tmp.resolve("x.mp4").toString());
        assertEquals(r.toString(), 1, r.code());
        assertTrue(r.toString(), r.err().strip().startsWith("error: parallel strategy 'bogus' is not installed"));
        assertEquals(r.toString(), 1, r.err().strip().lines().count());
        assertFalse("no rank was started: " + r, r.out().contains("[launcher] rank") || r.err().contains("[launcher] rank"));
        assertFalse(Files.exists(tmp.resolve("x.mp4")));
    }

    @Test
    public void cfgInDeployWithABadTimeoutFailsCommCheck() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-it-layers-");
        Path deploy = deployWith(tmp, "diffuse.dist.timeout = banana\n");
        Run r = run(tmp, deploy, "comm-check", "--nproc", "2", "--iterations", "1");
        assertEquals(r.toString(), 1, r.code());
        assertTrue(r.toString(), r.err().strip().startsWith("error: invalid configuration diffuse.dist.timeout = 'banana'"));
    }

    @Test
    public void exampleModelBundleInDeployIsListedAndGeneratesOnOneAndTwoRanks() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-it-waves-");
        Path deploy = deployWith(tmp, null);
        Files.copy(Path.of(System.getProperty("itest.bundles"), "toy-waves-model.jar"), deploy.resolve("toy-waves-model.jar"));

        Run info = run(tmp, deploy, "info");
        assertEquals(info.toString(), 0, info.code());
        String line = info.out().lines().filter(l -> l.trim().startsWith("toy-waves")).findFirst()
                .orElseThrow(() -> new AssertionError("toy-waves not listed:\n" + info));
        assertTrue(line, line.contains("[org.example.waves "));
        assertFalse(info.toString(), info.out().contains("provide nothing"));

        for (String ranks : new String[] {"1", "2"}) {
            Path mp4 = tmp.resolve("waves-" + ranks + ".mp4");
            Run r = run(tmp, deploy, "generate", "--model-family", "toy-waves", "--nproc", ranks, "--prompt", "waves",
                    "--output", mp4.toString());
            assertEquals(r.toString(), 0, r.code());
            assertTrue(r.toString(), r.out().contains("Built-in model builtin:waves (toy-waves)"));
            assertTrue(r.toString(), r.out().contains("world=" + ranks + " "));
            byte[] head = Files.readAllBytes(mp4);
            assertTrue("an MP4 with frames: " + head.length, head.length > 200);
            assertEquals("ftyp", new String(head, 4, 4, java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    @Test
    public void infoNamesDeployedJarsThatGiveNothing() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-it-problems-");
        Path deploy = deployWith(tmp, null);
        Path waves = Path.of(System.getProperty("itest.bundles"), "toy-waves-model.jar");
        // The same bundle without its DS component: META-INF/services alone registers nothing in OSGi.
        rewrite(waves, deploy.resolve("waves-services-only.jar"), "org.example.waves.services", true, null);
        // A bundle that imports a package nobody exports.
        rewrite(waves, deploy.resolve("waves-unresolvable.jar"), "org.example.waves.unresolvable", false,
                "com.example.nowhere");
        Files.writeString(deploy.resolve("garbage.jar"), "this is not a jar");

        Run r = run(tmp, deploy, "info");
        assertEquals(r.toString(), 0, r.code());
        String out = r.out();
        assertTrue(out, out.contains("Plugins that provide nothing"));
        assertTrue(out, out.lines().anyMatch(l -> l.contains("org.example.waves.services") && l.contains("provides nothing")
                && l.contains("META-INF/services only")));
        assertTrue(out, out.lines().anyMatch(l -> l.contains("org.example.waves.unresolvable") && l.contains("not resolved")
                && l.contains("com.example.nowhere")));
        assertTrue(out, out.lines().anyMatch(l -> l.contains("deploy/garbage.jar: not installed: not a jar file")));
        assertFalse("no framework trace on the console:\n" + r.err(), r.err().contains("\tat "));
    }

    /** Copies a bundle jar under another symbolic name, optionally without DS components or with an extra import. */
    private static void rewrite(Path from, Path to, String symbolicName, boolean dropComponents, String extraImport)
            throws IOException {
        try (JarFile in = new JarFile(from.toFile())) {
            Manifest m = new Manifest(in.getManifest());
            Attributes a = m.getMainAttributes();
            a.putValue("Bundle-SymbolicName", symbolicName);
            if (dropComponents) {
                a.remove(new Attributes.Name("Service-Component"));
            }
            if (extraImport != null) {
                a.putValue("Import-Package", a.getValue("Import-Package") + "," + extraImport);
            }
            try (OutputStream os = Files.newOutputStream(to); JarOutputStream out = new JarOutputStream(os, m)) {
                Enumeration<JarEntry> entries = in.entries();
                while (entries.hasMoreElements()) {
                    JarEntry e = entries.nextElement();
                    if (e.getName().equals("META-INF/MANIFEST.MF") || (dropComponents && e.getName().startsWith("OSGI-INF/"))) {
                        continue;
                    }
                    out.putNextEntry(new JarEntry(e.getName()));
                    in.getInputStream(e).transferTo(out);
                    out.closeEntry();
                }
            }
        }
    }
}
