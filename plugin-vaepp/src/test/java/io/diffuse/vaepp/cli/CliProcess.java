package io.diffuse.vaepp.cli;

import io.diffuse.core.cli.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the class-path CLI ({@link Cli#main}) as a real process, as a user runs it: with its own
 * environment variables and JVM system properties, stdout and stderr captured.
 */
final class CliProcess {
    /** What a finished process left. */
    record Result(int exitCode, String out, String err, double seconds) {
        @Override
        public String toString() {
            return "exit " + exitCode + " after " + seconds + " s\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private CliProcess() {
    }

    /** The java command that runs the class-path CLI with this JVM's class path. */
    static List<String> javaCommand(List<String> jvmArgs) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(jvmArgs);
        cmd.add("-Dorg.bytedeco.javacpp.nopointergc=true");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Cli.class.getName());
        return cmd;
    }

    static Result run(Path workDir, Map<String, String> env, List<String> jvmArgs, String... args) {
        List<String> cmd = javaCommand(jvmArgs);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        // A clean slate: no DIFFUSE_* or rank variables from the test runner's environment.
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_") || k.equals("RANK") || k.equals("WORLD_SIZE"));
        pb.environment().putAll(env);
        try {
            Path out = Files.createTempFile(workDir, "out", ".txt");
            Path err = Files.createTempFile(workDir, "err", ".txt");
            pb.redirectOutput(out.toFile()).redirectError(err.toFile());
            long start = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(240, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError("the command did not finish in 240 s: " + cmd);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err), seconds);
            Files.delete(out);
            Files.delete(err);
            return r;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
