package io.diffuse.serve.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Two "hosts" on this machine: network namespaces {@code <name>a} and {@code <name>b} joined by a
 * veth pair (10.213.N.1 and 10.213.N.2), each with its own loopback, plus a veth pair from the root
 * namespace to host a (10.214.N.1 here, 10.214.N.2 there) so the test can reach rank 0's HTTP port.
 * The names are unique per run; {@link #close} ends every process started here and deletes both
 * namespaces (which removes the veths).
 */
final class TwoHosts implements AutoCloseable {
    private static final AtomicInteger NEXT = new AtomicInteger();

    final String name;
    final String hostA;
    final String hostB;
    /** Host a's address on the link between the two hosts (MASTER_ADDR of a rank 0 there). */
    final String addressA;
    /** Host a's address as the root namespace (this test) reaches it. */
    final String addressAFromRoot;
    private final List<Process> processes = new ArrayList<>();
    private final List<String> created = new ArrayList<>();

    /** Why the test cannot build the hosts here (not root, no {@code ip}), or null. */
    static String unavailable() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return "needs root for 'ip netns add' (running as " + System.getProperty("user.name") + ")";
        }
        if (ipCommand() == null) {
            return "needs the 'ip' command (Debian package iproute2)";
        }
        return null;
    }

    private static String ipCommand() {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin").split(File.pathSeparator)) {
            if (!dir.isEmpty() && new File(dir, "ip").canExecute()) {
                return new File(dir, "ip").getPath();
            }
        }
        return null;
    }

    TwoHosts() throws IOException, InterruptedException {
        int n = (int) (ProcessHandle.current().pid() % 200) + NEXT.getAndIncrement();
        // Interface names are at most 15 characters: "df" + pid + counter stays well below.
        name = "df" + ProcessHandle.current().pid() + "x" + NEXT.get();
        hostA = name + "a";
        hostB = name + "b";
        addressA = "10.213." + (n % 250) + ".1";
        String addressB = "10.213." + (n % 250) + ".2";
        String rootSide = "10.214." + (n % 250) + ".1";
        addressAFromRoot = "10.214." + (n % 250) + ".2";
        try {
            ip("netns", "add", hostA);
            created.add(hostA);
            ip("netns", "add", hostB);
            created.add(hostB);
            ip("link", "add", name + "l", "type", "veth", "peer", "name", name + "m");
            ip("link", "set", name + "l", "netns", hostA);
            ip("link", "set", name + "m", "netns", hostB);
            ip("-n", hostA, "addr", "add", addressA + "/24", "dev", name + "l");
            ip("-n", hostB, "addr", "add", addressB + "/24", "dev", name + "m");
            ip("link", "add", name + "r", "type", "veth", "peer", "name", name + "s");
            ip("link", "set", name + "s", "netns", hostA);
            ip("addr", "add", rootSide + "/24", "dev", name + "r");
            ip("-n", hostA, "addr", "add", addressAFromRoot + "/24", "dev", name + "s");
            ip("link", "set", name + "r", "up");
            for (String[] up : new String[][] {{hostA, "lo"}, {hostB, "lo"}, {hostA, name + "l"}, {hostB, name + "m"},
                    {hostA, name + "s"}}) {
                ip("-n", up[0], "link", "set", up[1], "up");
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Starts {@code command} inside namespace {@code host} with {@code env} added, output to files. */
    Process start(String host, Map<String, String> env, List<String> command, Path stdout, Path stderr) throws IOException {
        List<String> full = new ArrayList<>(List.of(ipCommand(), "netns", "exec", host));
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full).redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_") || k.startsWith("TORCHELASTIC_")
                || k.equals("GLOO_SOCKET_IFNAME"));
        pb.environment().putAll(env);
        Process p = pb.start(); // 'ip netns exec' execs the command: this is the command's own process
        processes.add(p);
        return p;
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ipCommand()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
        }
        for (Process p : processes) {
            p.waitFor(30, TimeUnit.SECONDS);
        }
        for (String ns : created) {
            try {
                ip("netns", "del", ns);
            } catch (IOException e) {
                System.err.println("cleaning up: " + e.getMessage());
            }
        }
        created.clear();
    }
}
