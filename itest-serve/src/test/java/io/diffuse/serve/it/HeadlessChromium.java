package io.diffuse.serve.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's {@code chromium} in headless mode, opened on a page and asked over the DevTools protocol
 * (a WebSocket, JDK client) for a JavaScript expression until it holds: real time, no virtual-time
 * shortcuts, so the page's fetches and timers run as in a person's browser.
 */
final class HeadlessChromium implements AutoCloseable {
    private static final Pattern DEVTOOLS = Pattern.compile("DevTools listening on (ws://[^\\s]+)");
    private final Process browser;
    private final WebSocket socket;
    private final LinkedBlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private int nextId = 1;

    HeadlessChromium(String executable, Path profile, String url) throws Exception {
        browser = new ProcessBuilder(executable, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                "--remote-debugging-port=0", "--autoplay-policy=no-user-gesture-required", url).redirectErrorStream(true)
                .start();
        BufferedReader log = new BufferedReader(new InputStreamReader(browser.getInputStream(), StandardCharsets.UTF_8));
        String browserWs = null;
        for (String line; (line = log.readLine()) != null; ) {
            Matcher m = DEVTOOLS.matcher(line);
            if (m.find()) {
                browserWs = m.group(1);
                break;
            }
        }
        if (browserWs == null) {
            throw new AssertionError("chromium did not start its DevTools endpoint");
        }
        Thread drain = new Thread(() -> {
            try {
                while (log.readLine() != null) {
                    // chromium's own diagnostics
                }
            } catch (IOException e) {
                // closed
            }
        });
        drain.setDaemon(true);
        drain.start();
        URI ws = URI.create(browserWs);
        HttpClient http = HttpClient.newHttpClient();
        String pageWs = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (pageWs == null && System.nanoTime() < deadline) {
            String list = http.send(HttpRequest.newBuilder(URI.create("http://" + ws.getAuthority() + "/json/list")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            for (Object entry : ServeProcess.JSON.readValue(list, List.class)) {
                Map<?, ?> target = (Map<?, ?>) entry;
                if ("page".equals(target.get("type"))) {
                    pageWs = (String) target.get("webSocketDebuggerUrl");
                }
            }
            Thread.sleep(100);
        }
        socket = http.newWebSocketBuilder().buildAsync(URI.create(pageWs), new WebSocket.Listener() {
            private final StringBuilder partial = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                    replies.add(partial.toString());
                    partial.setLength(0);
                }
                webSocket.request(1);
                return null;
            }
        }).get(30, TimeUnit.SECONDS);
    }

    /** Evaluates {@code expression} in the page; its value as a string. */
    String evaluate(String expression) throws Exception {
        int id = nextId++;
        socket.sendText(ServeProcess.JSON.writeValueAsString(Map.of("id", id, "method", "Runtime.evaluate", "params",
                Map.of("expression", expression, "returnByValue", true))), true).get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String reply = replies.poll(1, TimeUnit.SECONDS);
            if (reply == null) {
                continue;
            }
            Map<?, ?> message = ServeProcess.JSON.readValue(reply, Map.class);
            if (Integer.valueOf(id).equals(message.get("id"))) {
                Map<?, ?> result = (Map<?, ?>) ((Map<?, ?>) message.get("result")).get("result");
                return String.valueOf(result.get("value"));
            }
        }
        throw new AssertionError("no answer to " + expression);
    }

    /** Polls {@code expression} until its value starts with one of {@code ends}; returns that value. */
    String await(String expression, Duration timeout, String... ends) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String value = "";
        while (System.nanoTime() < deadline) {
            value = evaluate(expression);
            for (String end : ends) {
                if (value.startsWith(end)) {
                    return value;
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError(expression + " was still '" + value + "' after " + timeout);
    }

    @Override
    public void close() {
        socket.abort();
        browser.descendants().forEach(ProcessHandle::destroyForcibly);
        browser.destroyForcibly();
    }
}
