package io.diffuse.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** comm-check through the CLI: one rank in-process, and two ranks as real processes, one of them killed. */
class CommCheckCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CliEnvironment env = new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "test"),
                Optional.of(new CliEnvironment.ProcessCommand(List.of(
                        ProcessHandle.current().info().command().orElse("java"),
                        "-cp", System.getProperty("java.class.path"), Cli.class.getName()))));
        CommandLine cl = Cli.create(env);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void oneRankRunsInProcessWithoutRendezvous() {
        int code = run("comm-check", "--size", "4096", "--iterations", "1");
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("comm-check passed"), out.toString());
        assertTrue(out.toString().contains("world=1 ulysses=1"), out.toString());
    }

    @Test
    void twoRankProcessesPassAndPrintBandwidth() {
        int code = run("comm-check", "--nproc", "2", "--size", "65536", "--iterations", "2", "--timeout", "30s");
        String o = out.toString();
        assertEquals(0, code, o + err);
        assertTrue(o.contains("[rank 0] comm-check passed"), o);
        assertTrue(o.contains("[rank 1] rank 1 groups ready: world[0, 1] ulysses[0, 1]"), o);
        // accounting column: all_to_all of 64 KiB on 2 ranks sends half of it
        // Gloo's native connection lines: never on stdout; a fully connected group's not at all below INFO.
        assertTrue(o.lines().allMatch(l -> l.startsWith("[rank 0] ") || l.startsWith("[rank 1] ")), o);
        assertFalse(o.contains("[Gloo]"), o);
        assertFalse(err.toString().contains("[Gloo] Rank "), err.toString());
        assertTrue(Pattern.compile("\\[rank 0\\] world +2 all_to_all +64\\.0 KiB .* 32\\.0 KiB +32\\.0 KiB").matcher(o).find(), o);
    }

    @Test
    void badSizeIsAOneLineError() {
        assertEquals(1, run("comm-check", "--size", "2"));
        assertEquals("error: --size 2 is too small; give at least 4 bytes (one fp32 element)", err.toString().strip());
    }

    @Test
    void killingARankFailsTheRunWithinTheTimeoutNamingTheRank() throws Exception {
        CompletableFuture<Integer> result = CompletableFuture.supplyAsync(() -> run("comm-check", "--nproc", "2",
                "--size", "4096", "--iterations", "1000000", "-C", "diffuse.dist.timeout=10s"));
        long pid = awaitRankPid(1, result);
        long killedAt = System.nanoTime();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        int code = result.get(60, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        assertEquals(1, code, out.toString());
        assertTrue(seconds < 10, "exited " + seconds + " s after the kill, the timeout is 10 s");
        assertTrue(err.toString().contains("error: rank 1 was killed by signal 9 (SIGKILL, exit code 137); stopped the other ranks"),
                err.toString());
        assertTrue(ProcessHandle.current().descendants().noneMatch(ProcessHandle::isAlive), "no rank is left running");
    }

    @Test
    void aStoppedRankIsBlamedNotThePeerThatTimedOutOnIt() throws Exception {
        CompletableFuture<Integer> result = CompletableFuture.supplyAsync(() -> run("comm-check", "--nproc", "2",
                "--size", "4096", "--iterations", "1000000", "-C", "diffuse.dist.timeout=3s"));
        long pid = awaitRankPid(1, result);
        new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();
        try {
            int code = result.get(60, TimeUnit.SECONDS);
            assertEquals(1, code, out.toString());
            String e = err.toString();
            assertTrue(e.contains("error: rank 1 stopped answering (process stopped, e.g. by SIGSTOP or a debugger) and its "
                    + "peers timed out waiting for it (rank 0 exited with code 1); stopped the other ranks"), e);
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        assertTrue(ProcessHandle.current().descendants().noneMatch(ProcessHandle::isAlive), "no rank is left running");
    }

    @Test
    void cudaOnACpuBuildIsOneLineBeforeAnyRankStarts() {
        org.junit.jupiter.api.Assumptions.assumeFalse(org.bytedeco.pytorch.global.torch.hasCUDA(), "a CUDA build");
        for (String nproc : new String[] {"1", "2"}) {
            err.getBuffer().setLength(0);
            assertEquals(1, run("comm-check", "--nproc", nproc, "--device", "cuda", "--size", "4096", "--iterations", "1"));
            assertEquals("error: device cuda (--device, diffuse.device) needs libtorch's CUDA natives, but this is a CPU build; "
                    + "build with `mvn -Pcuda -DskipTests package` and run it on a host with an NVIDIA GPU, or use --device cpu",
                    err.toString().strip(), "--nproc " + nproc);
            assertEquals("", out.toString(), "nothing ran");
        }
    }

    /** Waits until rank {@code rank} has its groups (so the collectives run), then returns its pid. */
    private long awaitRankPid(int rank, CompletableFuture<Integer> result) throws InterruptedException {
        Pattern started = Pattern.compile("\\[launcher\\] rank " + rank + " started, pid (\\d+)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && !result.isDone()) {
            Matcher m = started.matcher(err.toString());
            if (m.find() && out.toString().contains("[rank " + rank + "] rank " + rank + " groups ready")) {
                Thread.sleep(300);
                return Long.parseLong(m.group(1));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("rank " + rank + " never got ready; out:\n" + out + "\nerr:\n" + err);
    }
}
