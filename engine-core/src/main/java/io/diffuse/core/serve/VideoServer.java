package io.diffuse.core.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.model.GenerationInterruptedException;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.generate.GenerationPlan;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.MultiPart;
import org.eclipse.jetty.http.MultiPartConfig;
import org.eclipse.jetty.http.MultiPartFormData;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rank 0 of {@code diffuse serve}: the HTTP API (Jetty) on its own threads and the scheduler on the
 * rank's main thread, which runs one job at a time on every rank through the {@link ControlPlane}.
 * Every admitted job ends completed or failed with a reason: cancelled, timed out, shut down, or a
 * rank that failed (the server then fails the rest and stops, non-zero).
 */
final class VideoServer {
    private static final Logger LOG = LoggerFactory.getLogger(VideoServer.class);
    private static final ObjectMapper JSON = StrictJson.MAPPER;

    enum State { loading, ready, draining, failed }

    /** How long a drained stop waits for the HTTP answers under way before it closes the connections. */
    private static final Duration ANSWERS_UNDER_WAY = Duration.ofSeconds(5);

    private final ServeSettings settings;
    private final String modelId;
    private final String family;
    private final int worldSize;
    /** Request flags -> the checked plan (configuration re-read: the managed layer's hot swap). */
    private final Function<Map<String, Object>, GenerationPlan> planner;
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final List<String> order = new ArrayList<>();
    private final LinkedBlockingDeque<Job> queue = new LinkedBlockingDeque<>();
    private final Map<String, Long> groupBytes = new ConcurrentHashMap<>();
    private final ServeMetrics metrics;
    /** /admin/defaults: the layer between the server's start flags and a request's own fields. */
    private final AdminDefaults admin;
    /** The limits every job's plan must fit (frames, steps, pixels, memory), whatever layer set its values. */
    private final JobAdmission admission;
    private final ScheduledExecutorService janitor;
    private final JobStore store;
    /** The output folder as storage: staged uploads, what a job owns, the disk budget's count. */
    private final OutputFolder output;
    private final RestartBudget restarts;
    /** The API keys; with them, each job is visible only to the key that created it. */
    private final ApiKeys keys;
    /** What each rank last reported (installed plugins, memory); null until it reported. */
    private volatile RankInventory[] inventories;
    private final long[] residentBytes;
    private final long[] deviceBytes;
    private final boolean onCuda;
    private volatile State state = State.loading;
    private volatile String failure;
    private volatile long drainDeadline = Long.MAX_VALUE;
    private Server http;
    private int port;

    VideoServer(ServeSettings settings, String modelId, String family, int worldSize,
            Function<Map<String, Object>, GenerationPlan> planner, RestartBudget restarts, boolean onCuda,
            Function<GenerationPlan, java.util.OptionalLong> memoryEstimate) {
        this.settings = settings;
        this.modelId = modelId;
        this.family = family;
        this.worldSize = worldSize;
        this.planner = planner;
        this.restarts = restarts;
        this.store = new JobStore(settings.outputDir());
        this.output = new OutputFolder(settings.outputDir(), store.folder());
        this.keys = new ApiKeys(settings.apiKeys());
        this.inventories = new RankInventory[worldSize];
        this.residentBytes = new long[worldSize];
        this.deviceBytes = new long[worldSize];
        this.onCuda = onCuda;
        this.metrics = new ServeMetrics(queue::size, () -> groupBytes, () -> residentBytes.clone(),
                onCuda ? () -> deviceBytes.clone() : null);
        this.admission = new JobAdmission(settings, memoryEstimate, () -> inventories);
        this.admin = new AdminDefaults(settings, worldSize, flags -> {
            GenerationPlan plan = planner.apply(flags);
            requireWorld(plan);
            admission.check(plan);
            // An override naming what some rank lacks would make every request fail: refuse it now.
            String lacking = RankInventory.whatRanksLack(inventories, plan.settings());
            if (lacking != null) {
                throw ApiError.invalid("parallel", lacking);
            }
            return plan;
        });
        this.janitor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "diffuse-serve-janitor");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Brings back the jobs saved under the output folder (a restart of the ranks, or a new server on
     * the same folder): finished ones stay readable, queued ones run first, and one that was running
     * when the server went down fails with that reason.
     */
    private void restoreJobs() {
        List<Map<String, Object>> records = store.load();
        output.sweep(records.stream().map(r -> String.valueOf(r.get("id"))).collect(java.util.stream.Collectors.toSet()));
        for (Map<String, Object> record : records) {
            Job job;
            try {
                job = Job.restore(record, settings.outputDir());
            } catch (RuntimeException e) {
                LOG.warn("skipping job record {}: {}", record.get("id"), e.toString());
                continue;
            }
            jobs.put(job.id, job);
            synchronized (order) {
                order.add(job.id);
            }
            if (job.status() == Job.Status.queued) {
                queue.add(job);
                LOG.info("{} queued again after a restart", job.id);
            } else if (job.status() == Job.Status.in_progress) {
                finishFailed(job, "rank_failed", "the server went down while this job ran (" + restarts.describe()
                        + "); it did not finish");
            }
        }
    }

    /** Starts the HTTP API (before the model loads: /health answers, /ready says loading). */
    int start() {
        restoreJobs();
        QueuedThreadPool threads = new QueuedThreadPool(32, 2);
        threads.setName("diffuse-http");
        threads.setDaemon(true);
        http = new Server(threads);
        ServerConnector connector = new ServerConnector(http, 1, 1);
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        http.addConnector(connector);
        // Graceful: a drained stop lets the answers under way end (a sync client's MP4), see stopHttp.
        http.setHandler(new org.eclipse.jetty.server.handler.GracefulHandler(new RequestGuard(settings, new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                return VideoServer.this.handle(request, response, callback);
            }
        })));
        http.setErrorHandler(new ApiErrorHandler());
        try {
            http.start();
        } catch (Exception e) {
            Throwable cause = e instanceof java.net.BindException ? e : e.getCause();
            if (cause instanceof java.net.BindException bind) {
                // Taken since the check before the ranks started: the same one line, and the launcher does not restart.
                throw io.diffuse.core.launch.ListenAddress.inUse(settings.host(), settings.port(), bind);
            }
            throw new DiffuseException("cannot listen on " + settings.host() + ":" + settings.port() + " (diffuse.serve.host/port): "
                    + e.getMessage(), e);
        }
        port = connector.getLocalPort();
        if (!keys.any() && !AdminDefaults.isLoopback(settings.host())) {
            LOG.warn("listening on {} (not loopback) without an API key: anyone who can reach port {} can create jobs and"
                    + " see every job's id and prompt; set diffuse.serve.api-keys (DIFFUSE_SERVE_API__KEYS)", settings.host()
                    .isBlank() ? "every interface" : settings.host(), port);
        }
        long sweep = Math.max(1, Math.min(30, settings.jobTtl().toSeconds() / 2));
        janitor.scheduleWithFixedDelay(this::expire, sweep, sweep, TimeUnit.SECONDS);
        return port;
    }

    void ready() {
        if (state == State.loading) {
            state = State.ready;
        }
    }

    /** Stop admitting; the running job may finish until {@code drain-timeout}, queued jobs fail. */
    void beginDrain() {
        if (state == State.ready || state == State.loading) {
            state = State.draining;
        }
        drainDeadline = System.nanoTime() + settings.drainTimeout().toNanos();
        if (state == State.failed && restarts.anyLeft()) {
            return; // stopping for a restart: the queued jobs run after it
        }
        failQueued("shutting_down", "the server is shutting down (SIGTERM) and did not start this job");
    }

    void stopHttp() {
        janitor.shutdownNow();
        try {
            if (http != null) {
                // Drained: the job's end has woken its sync client, whose MP4 may still be on its way out.
                // A failed server stops at once (the ranks restart; nothing under way can still succeed).
                http.setStopTimeout(state == State.draining ? ANSWERS_UNDER_WAY.toMillis() : 0);
                http.stop();
            }
        } catch (Exception e) {
            LOG.debug("stopping the HTTP server: {}", e.toString());
        }
    }

    // ------------------------------------------------------------------ scheduler (rank 0's main thread)

    /**
     * Runs jobs until drained; throws (after failing every job and lingering) when a rank failed.
     *
     * @param pids every rank's process id (to name a rank that died)
     */
    void runScheduler(JobRunner runner, ControlPlane control, long[] pids, java.util.function.Function<GenerationPlan,
            ProcessGroups> groupsOf, Duration collectiveTimeout, java.util.function.Supplier<RankInventory> inventory) {
        // Waiting ranks sit in a broadcast: tick well within the collective timeout.
        long tick = Math.max(50, Math.min(5000, collectiveTimeout.toMillis() / 4));
        while (true) {
            Job job;
            try {
                job = queue.poll(state == State.draining ? 50 : tick, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                beginDrain();
                job = null;
            }
            if (job == null) {
                if (state == State.draining) {
                    break;
                }
                try {
                    control.send(ControlPlane.TICK, null);
                    reports(control.exchange(inventory.get().toJson()));
                } catch (RuntimeException e) {
                    fault(null, describeFault(e, pids));
                }
                continue;
            }
            if (job.finished()) {
                continue; // cancelled while queued
            }
            runJob(job, runner, control, pids, groupsOf);
        }
        try {
            control.send(ControlPlane.SHUTDOWN, null);
        } catch (RuntimeException e) {
            LOG.debug("shutdown order: {}", e.toString());
        }
    }

    private void runJob(Job job, JobRunner runner, ControlPlane control, long[] pids,
            java.util.function.Function<GenerationPlan, ProcessGroups> groupsOf) {
        GenerationPlan plan;
        try {
            plan = planner.apply(admin.under(job.flags)); // the admin defaults as they are now
            requireWorld(plan);
            admission.check(plan);
        } catch (DiffuseException | ApiError e) {
            // The configuration changed since the job was admitted (hot swap) and no longer fits it.
            finishFailed(job, "invalid_request", e.getMessage());
            return;
        }
        // What every rank needs to run the job (not the server's own settings, such as its API key).
        Config config = plan.config().withOnlyPath("diffuse").withoutPath(ServeSettings.PREFIX);
        String payload = config.root().render(ConfigRenderOptions.concise());
        job.start(describe(plan.settings()));
        store.save(job);
        metrics.running(true);
        long residentBefore = onCuda ? deviceBytes[0] : residentBytes[0];
        try {
            control.send(ControlPlane.JOB, payload);
            JobRunner.Outcome outcome = runner.run(JobRunner.parse(payload), progressOf(job), () -> decide(job),
                    this::resident);
            if (!outcome.started()) {
                finishFailed(job, "not_installed", "not started: " + perRank(outcome.notRunnable()));
            } else if (outcome.failed()) {
                String why = perRank(outcome.errors());
                // One request's failure (e.g. memory it could not get): every rank ended it, the next job runs.
                finishFailed(job, why.contains("allocate") || why.contains("out of memory") || why.contains("Java heap")
                        ? "out_of_memory" : "generation_failed", why);
            } else if (outcome.result() == null) {
                String where = " (" + outcome.stoppedWhere() + ")";
                switch (outcome.stopped()) {
                    case JobRunner.CANCELLED -> finishFailed(job, "cancelled", "cancelled by the client; every rank stopped"
                            + where);
                    case JobRunner.TIMED_OUT -> finishFailed(job, "timeout", "ran longer than "
                            + settings.requestTimeout().toSeconds() + " s (diffuse.serve.request-timeout); every rank stopped"
                            + where);
                    default -> finishFailed(job, "shutting_down", "the server shut down before the job finished; every rank"
                            + " stopped" + where);
                }
            } else {
                outcome.result().stageTimes().forEach((stage, d) -> job.stage(stage, d.toNanos() / 1e9));
                outcome.result().stagePeakBytes().values().stream().mapToLong(Long::longValue).max()
                        .ifPresent(peak -> job.memoryPeak(Math.max(0, peak - residentBefore)));
                if (outcome.written() != null) {
                    job.written(outcome.written().toString());
                }
                recordTraffic(groupsOf.apply(plan));
                if (job.complete(settings.jobTtl().toSeconds())) {
                    store.save(job);
                }
                metrics.completed();
                LOG.info("{} completed", job.id);
                try {
                    janitor.execute(this::expire); // the disk budget, with this job's files counted
                } catch (java.util.concurrent.RejectedExecutionException stopping) {
                    LOG.debug("not checking the disk budget: the server is stopping");
                }
            }
        } catch (RuntimeException | Error e) {
            String why = describeFault(e, pids);
            if (!(e instanceof io.diffuse.api.dist.CollectiveException)) {
                // Not a lost rank but rank 0's own code failing: the first line alone hides where and why.
                LOG.error("{}: rank 0 failed running the job", job.id, e);
            }
            fault(job, why);
        } finally {
            metrics.running(false);
            deletePartial(job);
        }
    }

    private ProgressListener progressOf(Job job) {
        return new ProgressListener() {
            private long stageStart;
            private long stepStart;

            @Override
            public void stageStarted(String stage) {
                stageStart = System.nanoTime();
                stepStart = stageStart;
            }

            @Override
            public void step(String stage, int step, int total) {
                long now = System.nanoTime();
                metrics.step(stage, Duration.ofNanos(now - stepStart));
                stepStart = now;
                // Encoding is short; denoising moves 5..95 %; decoding and writing the rest.
                job.step(step, total);
                job.progress(5 + 90 * step / Math.max(1, total));
            }

            @Override
            public void stageFinished(String stage) {
                metrics.stage(stage, Duration.ofNanos(System.nanoTime() - stageStart));
                if (stage.equals("encode")) {
                    job.progress(5);
                }
            }
        };
    }

    private int decide(Job job) {
        if (job.cancelRequested()) {
            return JobRunner.CANCELLED;
        }
        if (System.currentTimeMillis() - job.startedAtMillis() > settings.requestTimeout().toMillis()) {
            return JobRunner.TIMED_OUT;
        }
        if (System.nanoTime() > drainDeadline) {
            return JobRunner.SHUTTING_DOWN;
        }
        return JobRunner.GO_ON;
    }

    /** "rank 1: why" for each rank with something to say; identical lines are said once for their ranks. */
    static String perRank(String[] lines) {
        Map<String, List<Integer>> byLine = new LinkedHashMap<>();
        for (int r = 0; r < lines.length; r++) {
            if (!lines[r].isEmpty()) {
                byLine.computeIfAbsent(lines[r], k -> new ArrayList<>()).add(r);
            }
        }
        List<String> parts = new ArrayList<>();
        byLine.forEach((line, ranks) -> parts.add((ranks.size() == 1 ? "rank " + ranks.get(0) : "ranks " + ranks) + ": " + line));
        return String.join("; ", parts);
    }

    private void resident(ControlPlane.StepAgreement agreed) {
        System.arraycopy(agreed.residentBytes(), 0, residentBytes, 0, Math.min(agreed.residentBytes().length, worldSize));
        System.arraycopy(agreed.deviceBytes(), 0, deviceBytes, 0, Math.min(agreed.deviceBytes().length, worldSize));
    }

    /** Every rank's report after a tick: what it has installed, its memory. */
    void reports(String[] json) {
        RankInventory[] reported = new RankInventory[worldSize];
        for (int r = 0; r < json.length && r < worldSize; r++) {
            reported[r] = RankInventory.parse(json[r]);
            residentBytes[r] = reported[r].residentBytes();
            deviceBytes[r] = reported[r].deviceBytes();
        }
        inventories = reported; // read by the HTTP threads when they admit a request
    }

    private void finishFailed(Job job, String code, String message) {
        if (job.fail(code, message, settings.jobTtl().toSeconds())) {
            store.save(job);
            metrics.failed(code);
            LOG.info("{} failed ({}): {}", job.id, code, message);
        }
    }

    /** A rank failed: fail the running and the queued jobs, report not ready, linger so clients can read it, then stop. */
    private void fault(Job running, String why) {
        failure = why;
        state = State.failed;
        if (running != null) {
            finishFailed(running, "rank_failed", why);
        }
        if (!restarts.anyLeft()) {
            failQueued("rank_failed", "not started: " + why + "; the server stopped (" + restarts.describe() + ")");
        } // else the queued jobs stay saved as queued: the restarted ranks run them
        try {
            Thread.sleep(settings.faultLinger().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new DiffuseException("serve: " + why + (restarts.anyLeft() ? "; restarting the ranks (" + restarts.next() + ")"
                : "; stopping (" + restarts.describe() + ")"));
    }

    private void failQueued(String code, String message) {
        synchronized (queue) { // with admit: no job is queued after this ran
            Job j;
            while ((j = queue.poll()) != null) {
                finishFailed(j, code, message);
            }
        }
    }

    /** Names the rank whose process is gone (ranks on this host), else the error's first line. */
    private static String describeFault(Throwable e, long[] pids) {
        String cause = firstLine(e);
        long deadline = System.nanoTime() + 1_000_000_000L;
        do {
            List<String> gone = new ArrayList<>();
            for (int r = 1; r < pids.length; r++) {
                final long pid = pids[r];
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (!alive) {
                    gone.add("rank " + r + " (pid " + pid + ")");
                } else if (io.diffuse.core.launch.LocalLauncher.isStopped(pid)) {
                    gone.add("rank " + r + " (pid " + pid + ", stopped: it stopped answering)");
                }
            }
            if (!gone.isEmpty()) {
                return String.join(", ", gone) + (gone.stream().allMatch(g -> g.contains("stopped")) ? " hung" : " exited")
                        + ": " + cause;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                break;
            }
        } while (System.nanoTime() < deadline);
        return "a rank failed during the job: " + cause;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private void requireWorld(GenerationPlan plan) {
        if (plan.settings().parallel().nproc() != worldSize) {
            throw ApiError.invalid("parallel", "the plan needs " + plan.settings().parallel().nproc() + " ranks; this server runs "
                    + worldSize);
        }
        if (!plan.model().source().toString().equals(modelId)) {
            throw ApiError.invalid("model", "this server serves " + modelId + "; it cannot load " + plan.model().source());
        }
    }

    static Map<String, Object> describe(EngineSettings s) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("world", s.parallel().nproc());
        p.put("strategy", s.parallel().strategy());
        p.put("ulysses", s.parallel().ulysses());
        p.put("ring", s.parallel().ring());
        p.put("cfg", s.parallel().cfg());
        p.put("vae", s.parallel().vae());
        p.put("vae_executor", s.vae().executor());
        return p;
    }

    private void recordTraffic(ProcessGroups groups) {
        for (ProcessGroup g : List.of(groups.world(), groups.ulysses(), groups.ring(), groups.cfg(), groups.vae())) {
            var t = g.stats().total();
            groupBytes.put(g.name(), t.bytesSent() + t.bytesReceived());
        }
    }

    private void deletePartial(Job job) {
        if (job.status() != Job.Status.completed) {
            try {
                Files.deleteIfExists(job.mp4);
            } catch (IOException e) {
                LOG.debug("{}", e.toString());
            }
        }
    }

    /** Deletes finished jobs past their expiry, then the oldest finished jobs while the output folder is over the disk budget. */
    void expire() {
        long now = System.currentTimeMillis() / 1000;
        List<Job> finished = new ArrayList<>();
        synchronized (order) {
            for (String id : order) {
                Job j = jobs.get(id);
                if (j != null && j.finished()) {
                    finished.add(j);
                }
            }
        }
        for (Job j : finished) {
            if (j.expiresAt() <= now) {
                remove(j);
            }
        }
        if (settings.diskBudget() <= 0) {
            return;
        }
        long bytes = output.bytes(); // everything under the folder, not only the videos
        for (Job j : finished) {
            if (bytes <= settings.diskBudget()) {
                break;
            }
            if (jobs.containsKey(j.id)) {
                long size = OutputFolder.sizeOf(output.filesOf(j.id));
                if (remove(j) == null) {
                    bytes -= size;
                    LOG.info("{} deleted: the output folder is over diffuse.serve.disk-budget ({} bytes)", j.id,
                            settings.diskBudget());
                }
            }
        }
    }

    /**
     * Deletes a finished job with its files; a job whose files or record cannot be deleted stays as it is
     * (listed, and back after a restart), so that what the server says matches what is on disk.
     *
     * @return null when deleted, else why not
     */
    private String remove(Job j) {
        String notDeleted = output.deleteJob(j.id, store);
        if (notDeleted == null) {
            jobs.remove(j.id);
            synchronized (order) {
                order.remove(j.id);
            }
        }
        return notDeleted;
    }

    // ------------------------------------------------------------------ HTTP

    private boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        // HEAD is GET without the body (Jetty sends the headers only).
        String method = request.getMethod().equals("HEAD") ? "GET" : request.getMethod();
        try {
            if (path.equals("/") && method.equals("GET")) {
                return send(response, callback, 200, "text/html; charset=utf-8", playground());
            }
            if (path.equals("/health")) {
                return json(response, callback, 200, Map.of("status", "ok"));
            }
            if (path.equals("/ready")) {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("status", state.name());
                if (failure != null) {
                    body.put("error", failure);
                }
                ApiError storage = state == State.ready ? output.problem() : null;
                if (storage != null) {
                    body.put("status", storage.code); // ready to run, but no new job could be saved
                    body.put("error", storage.getMessage());
                }
                return json(response, callback, state == State.ready && storage == null ? 200 : 503, body);
            }
            if (path.equals("/admin/defaults")) {
                return adminDefaults(request, method, response, callback);
            }
            String caller = authorize(request);
            if (path.equals("/metrics") && method.equals("GET")) {
                return send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8",
                        metrics.scrape().getBytes(StandardCharsets.UTF_8));
            }
            if (path.equals("/v1/models") && method.equals("GET")) {
                return json(response, callback, 200, Map.of("object", "list", "data", List.of(Map.of("id", modelId, "object",
                        "model", "created", 0, "owned_by", "diffuse", "family", family))));
            }
            if (path.equals("/v1/videos") && method.equals("POST")) {
                return json(response, callback, 200, admit(request).toJson());
            }
            if (path.equals("/v1/videos/sync") && method.equals("POST")) {
                return sync(request, response, callback);
            }
            if (path.equals("/v1/videos") && method.equals("GET")) {
                return json(response, callback, 200, list(Request.extractQueryParameters(request), caller));
            }
            if (path.startsWith("/v1/videos/")) {
                String rest = path.substring("/v1/videos/".length());
                boolean content = rest.endsWith("/content");
                String id = content ? rest.substring(0, rest.length() - "/content".length()) : rest;
                Job job = jobs.get(id);
                if (job == null || !ApiKeys.sees(caller, job.owner)) { // another key's job is not found either
                    throw ApiError.notFound("no video job '" + id + "' (unknown, expired or deleted)");
                }
                if (content && method.equals("GET")) {
                    return content(job, response, callback);
                }
                if (!content && method.equals("GET")) {
                    if (!job.finished()) {
                        response.getHeaders().put("openai-poll-after-ms", "500");
                    }
                    return json(response, callback, 200, job.toJson());
                }
                if (!content && method.equals("DELETE")) {
                    return json(response, callback, 200, delete(job));
                }
            }
            throw new ApiError(404, "invalid_request_error", null, "not_found", method + " " + path + " is not an endpoint here");
        } catch (ApiError e) {
            if (e.status == 429) {
                response.getHeaders().put(HttpHeader.RETRY_AFTER, "5");
            }
            if (e.status == 401) {
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            }
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("message", e.getMessage());
            err.put("type", e.type);
            err.put("param", e.param);
            err.put("code", e.code);
            return json(response, callback, e.status, Map.of("error", err));
        } catch (RuntimeException e) {
            LOG.warn("{} {}: {}", method, path, e.toString());
            return json(response, callback, 500, Map.of("error", Map.of("message", firstLine(e), "type", "server_error")));
        }
    }

    /** Who sent the request (see {@link ApiKeys#caller}); also kept on the request for {@link #admit}. */
    private String authorize(Request request) {
        String caller = keys.caller(request.getHeaders().get(HttpHeader.AUTHORIZATION));
        request.setAttribute(ApiKeys.CALLER, caller);
        return caller;
    }

    /** What {@code /admin/defaults} shows of the managed layer (a deploy/ .cfg) the jobs plan with. */
    void managedLayer(java.util.function.Supplier<Map<String, Object>> status) {
        admin.managedLayer(status);
    }

    /** GET, PUT, PATCH, DELETE /admin/defaults (see {@link AdminDefaults}). */
    private boolean adminDefaults(Request request, String method, Response response, Callback callback) {
        admin.authorize(request.getHeaders().get(HttpHeader.AUTHORIZATION));
        if (method.equals("PUT") || method.equals("PATCH")) {
            RequestGuard.requireJson(request.getHeaders().get(HttpHeader.CONTENT_TYPE), false);
        }
        byte[] body = method.equals("PUT") || method.equals("PATCH") ? readBody(request) : new byte[0];
        return json(response, callback, 200, admin.handle(method, body));
    }

    /** The request's body, at most {@code max-body-bytes} (413 beyond). */
    private byte[] readBody(Request request) {
        byte[] body;
        try (InputStream in = Content.Source.asInputStream(request)) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, settings.maxBodyBytes() + 1));
        } catch (IOException e) {
            throw ApiError.invalid(null, "cannot read the body: " + e.getMessage());
        }
        if (body.length > settings.maxBodyBytes()) {
            throw new ApiError(413, "invalid_request_error", null, "body_too_large", "the body is larger than "
                    + settings.maxBodyBytes() + " bytes (diffuse.serve.max-body-bytes)");
        }
        return body;
    }

    /** Reads, checks and queues a request (everything the generation service checks, before queueing). */
    private Job admit(Request request) {
        if (state != State.ready && state != State.loading) {
            metrics.rejected("not_ready");
            throw new ApiError(503, "server_error", null, "not_ready", "the server is " + state + " and takes no new jobs"
                    + (failure == null ? "" : ": " + failure));
        }
        // A server fault, not the request's: checked first, so that a full or read-only folder is never a 400.
        output.requireWritable("the job is not queued");
        String id = Job.newId();
        try (OutputFolder.Upload upload = output.upload(id)) {
            return admit(request, id, upload);
        }
    }

    /** {@link #admit(Request)} with the request's upload, which it keeps only for a job it queues. */
    private Job admit(Request request, String id, OutputFolder.Upload upload) {
        VideoRequests.Parsed parsed;
        GenerationPlan plan;
        Map<String, Object> flags;
        JobAdmission.Admitted memory;
        try {
            // Inside the try: a body that is not JSON or an upload that is not an image is a rejected request too.
            Map<String, Object> fields = readFields(request, upload);
            parsed = VideoRequests.parse(fields, modelId, family, settings);
            flags = new LinkedHashMap<>(parsed.flags());
            fields.entrySet().stream().filter(e -> e.getKey().equals("input_reference") && e.getValue() instanceof Path)
                    .forEach(e -> flags.put("diffuse.generate.image", e.getValue().toString()));
            if (flags.keySet().stream().anyMatch(k -> k.startsWith("diffuse.parallel."))) {
                // A request's plan is within this world: its own degrees, the server's rank count.
                flags.put("diffuse.parallel.nproc", worldSize);
            }
            flags.put("diffuse.generate.output", settings.outputDir().resolve(id + ".mp4").toString());
            if (settings.writeTensors()) {
                flags.put("diffuse.generate.output-tensors", settings.outputDir().resolve(id + ".safetensors").toString());
            }
            try {
                plan = planner.apply(admin.under(flags));
            } catch (DiffuseException e) {
                String message = e.getMessage();
                Object staged = flags.get("diffuse.generate.image");
                if (staged != null && message != null) {
                    // The client sent a file, not a path: never show where the server keeps it.
                    message = message.replace(staged.toString(), "input_reference");
                }
                throw ApiError.invalid(VideoRequests.fieldOf(message), ApiWording.of(message));
            }
            requireWorld(plan);
            String lacking = RankInventory.whatRanksLack(inventories, plan.settings());
            if (lacking != null) {
                throw ApiError.invalid("parallel", lacking);
            }
            memory = admission.check(plan);
        } catch (ApiError e) {
            // The staged upload goes with the request (Upload.close); a storage fault counts under its own code.
            metrics.rejected(e.status == 413 ? "body_too_large" : e.status >= 500 ? e.code : "invalid_request");
            throw e;
        }
        String size = parsed.size() != null ? parsed.size()
                : plan.generate().width().isPresent() && plan.generate().height().isPresent()
                        ? plan.generate().width().get() + "x" + plan.generate().height().get() : "";
        String seconds = parsed.seconds() != null ? parsed.seconds()
                : String.format(java.util.Locale.ROOT, "%.2f", plan.generate().numFrames() / (double) plan.generate().outputs().fps());
        if (upload.target() != null) {
            flags.put("diffuse.generate.image", upload.target().toString()); // where commit() puts it
        }
        Job job = new Job(id, modelId, parsed.prompt(), size, seconds, flags, settings.outputDir());
        job.owner = (String) request.getAttribute(ApiKeys.CALLER);
        job.memoryAdmitted(memory.estimateBytes().isPresent() ? memory.estimateBytes().getAsLong() : null,
                memory.budgetBytes() > 0 ? memory.budgetBytes() : null);
        synchronized (queue) {
            if (state != State.ready && state != State.loading) {
                // SIGTERM (or a rank failure) came while the request was read: the queue was failed under this lock.
                // The staged upload goes with the request (Upload.close).
                metrics.rejected("not_ready");
                throw new ApiError(503, "server_error", null, "not_ready", "the server is " + state + " and takes no new jobs");
            }
            if (queue.size() >= settings.maxQueue()) {
                metrics.rejected("queue_full");
                throw new ApiError(429, "rate_limit_error", null, "queue_full", "the queue is full (" + settings.maxQueue()
                        + " jobs waiting, diffuse.serve.max-queue); retry later");
            }
            upload.commit();
            try {
                store.create(job); // before the scheduler can take it
            } catch (IOException e) {
                LOG.warn("{} not queued: cannot save its record under {}: {}", id, store.folder(), e.toString());
                throw OutputFolder.fault("the job is not queued, as its record cannot be saved", e);
            }
            upload.keep();
            jobs.put(id, job);
            synchronized (order) {
                order.add(id);
            }
            queue.add(job);
        }
        LOG.info("{} queued", id);
        return job;
    }

    /** The request's fields from JSON or multipart/form-data (an input_reference file is saved under the output folder). */
    private Map<String, Object> readFields(Request request, OutputFolder.Upload upload) {
        long declared = request.getLength();
        if (declared > settings.maxBodyBytes()) {
            throw new ApiError(413, "invalid_request_error", null, "body_too_large", "the body has " + declared
                    + " bytes; this server takes at most " + settings.maxBodyBytes() + " (diffuse.serve.max-body-bytes)");
        }
        String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
        if (type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/form-data")) {
            return readMultipart(request, type, upload);
        }
        RequestGuard.requireJson(type, true);
        Object parsed = StrictJson.read(readBody(request));
        if (!(parsed instanceof Map<?, ?> m)) {
            throw ApiError.invalid(null, "the body must be a JSON object (or multipart/form-data)");
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            if (v != null) {
                fields.put(String.valueOf(k), v);
            }
        });
        if (fields.containsKey("input_reference")) {
            throw ApiError.invalid("input_reference", "send input_reference as a file in multipart/form-data");
        }
        return fields;
    }

    private Map<String, Object> readMultipart(Request request, String type, OutputFolder.Upload upload) {
        MultiPartConfig config = new MultiPartConfig.Builder().location(settings.outputDir()).maxSize(settings.maxBodyBytes())
                .maxPartSize(settings.maxBodyBytes()).maxMemoryPartSize(settings.maxBodyBytes()).maxParts(64).build();
        Map<String, Object> fields = new LinkedHashMap<>();
        try (MultiPartFormData.Parts parts = MultiPartFormData.getParts(request, request, type, config)) {
            for (MultiPart.Part part : parts) {
                String name = part.getName();
                if (name == null) {
                    continue;
                }
                if (name.equals("input_reference")) {
                    fields.put(name, saveImage(part, upload));
                } else if (name.startsWith("parallel[") || name.startsWith("parallel.")) {
                    // form encodings of the parallel object: parallel[ulysses]=2 or parallel.ulysses=2
                    String key = name.substring("parallel".length() + 1).replace("]", "");
                    @SuppressWarnings("unchecked")
                    Map<String, Object> p = (Map<String, Object>) fields.computeIfAbsent("parallel", k -> new LinkedHashMap<>());
                    p.put(key, part.getContentAsString(StandardCharsets.UTF_8));
                } else if (name.equals("parallel")) {
                    try {
                        fields.put(name, JSON.readValue(part.getContentAsString(StandardCharsets.UTF_8), Object.class));
                    } catch (IOException e) {
                        throw ApiError.invalid("parallel", "parallel is not a JSON object: " + firstLine(e));
                    }
                } else {
                    // Strict, as for JSON: a field sent twice is refused rather than the last one taken.
                    if (fields.putIfAbsent(name, part.getContentAsString(StandardCharsets.UTF_8)) != null) {
                        throw ApiError.invalid(name, name + " is given more than once; send each field once");
                    }
                }
            }
        } catch (ApiError e) {
            throw e;
        } catch (RuntimeException e) {
            Throwable t = e.getCause() == null ? e : e.getCause();
            throw new ApiError(t.getMessage() != null && t.getMessage().toLowerCase(java.util.Locale.ROOT).contains("max")
                    ? 413 : 400, "invalid_request_error", null, null, "cannot read multipart/form-data: " + firstLine(t));
        }
        return fields;
    }

    private Path saveImage(MultiPart.Part part, OutputFolder.Upload upload) {
        String file = part.getFileName() == null ? "" : part.getFileName().toLowerCase(java.util.Locale.ROOT);
        String ext = file.endsWith(".jpg") || file.endsWith(".jpeg") ? "jpg" : file.endsWith(".webp") ? "webp" : "png";
        Path staged = upload.staging(ext);
        try {
            part.writeTo(staged);
        } catch (IOException e) {
            LOG.warn("cannot stage an upload as {}: {}", staged, e.toString());
            throw OutputFolder.fault("input_reference is not kept", e);
        }
        try {
            java.awt.image.BufferedImage image;
            try (InputStream in = Files.newInputStream(staged)) {
                image = javax.imageio.ImageIO.read(in);
            }
            if (image == null) {
                throw ApiError.invalid("input_reference", "input_reference is not an image this server can read (PNG or JPEG)");
            }
            long pixels = (long) image.getWidth() * image.getHeight();
            if (pixels > settings.maxImagePixels()) {
                throw ApiError.invalid("input_reference", "input_reference has " + pixels + " pixels; at most "
                        + settings.maxImagePixels() + " (diffuse.serve.max-image-pixels)");
            }
            return staged; // planned with; the job reads it from upload.target() once admitted
        } catch (IOException e) {
            throw ApiError.invalid("input_reference", "cannot read input_reference: " + e.getMessage());
        }
    }

    private boolean sync(Request request, Response response, Callback callback) {
        Job job = admit(request);
        try {
            job.done.get(settings.requestTimeout().toMillis() + settings.drainTimeout().toMillis() + 60_000L
                    * Math.max(1, queue.size() + 1), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // reported below from the job's state
        }
        if (job.status() != Job.Status.completed) {
            Map<String, Object> j = job.toJson();
            @SuppressWarnings("unchecked")
            Map<String, Object> err = (Map<String, Object>) j.get("error");
            String message = err == null ? "the job did not finish" : String.valueOf(err.get("message"));
            throw new ApiError(500, "server_error", null, err == null ? null : String.valueOf(err.get("code")), job.id + " "
                    + job.status() + ": " + message);
        }
        response.getHeaders().put("x-video-id", job.id);
        return content(job, response, callback);
    }

    private boolean content(Job job, Response response, Callback callback) throws ApiError {
        if (job.status() != Job.Status.completed) {
            throw new ApiError(409, "invalid_request_error", null, "video_not_ready", job.id + " is " + job.status()
                    + (job.status() == Job.Status.failed ? " and has no content" : "; content is available once status is completed"));
        }
        byte[] bytes;
        try (var in = OutputFolder.openServerFile(job.mp4)) {
            bytes = Channels.newInputStream(in).readAllBytes();
        } catch (NoSuchFileException e) {
            throw ApiError.notFound(job.id + ": its video file is gone from the server's output folder");
        } catch (IOException e) {
            // A link or another file put in its place: served is only the file the server wrote.
            LOG.warn("{}: not serving {}: {}", job.id, job.mp4, e.toString());
            throw ApiError.notFound(job.id + ": its video file is gone (the server's file was replaced)");
        }
        response.getHeaders().put(HttpHeader.CONTENT_DISPOSITION, "inline; filename=\"" + job.id + ".mp4\"");
        return send(response, callback, 200, "video/mp4", bytes);
    }

    private Map<String, Object> delete(Job job) {
        if (job.finished()) {
            String notDeleted = remove(job);
            if (notDeleted != null) {
                throw new ApiError(500, "server_error", null, "not_deleted", job.id + " is not deleted: " + notDeleted
                        + "; the job is kept, and DELETE can be tried again");
            }
            return Map.of("id", job.id, "object", "video.deleted", "deleted", true);
        }
        synchronized (queue) {
            if (queue.remove(job)) {
                finishFailed(job, "cancelled", "cancelled by the client before it started");
                return job.toJson();
            }
        }
        // Running: every rank stops after the current denoising step.
        job.requestCancel();
        return job.toJson();
    }

    /** The jobs {@code caller} may see (with API keys: the ones its key created), newest first unless asked. */
    private Map<String, Object> list(Fields query, String caller) {
        String after = query.getValue("after");
        int limit = 20;
        String l = query.getValue("limit");
        if (l != null) {
            try {
                limit = Integer.parseInt(l);
            } catch (NumberFormatException e) {
                throw ApiError.invalid("limit", "limit '" + l + "' is not an integer");
            }
            if (limit < 1 || limit > 100) {
                throw ApiError.invalid("limit", "limit must be 1..100");
            }
        }
        String ord = query.getValue("order") == null ? "desc" : query.getValue("order");
        if (!ord.equals("asc") && !ord.equals("desc")) {
            throw ApiError.invalid("order", "order must be asc or desc");
        }
        List<String> ids;
        synchronized (order) {
            ids = new ArrayList<>(order);
        }
        ids.removeIf(i -> jobs.get(i) == null || !ApiKeys.sees(caller, jobs.get(i).owner));
        if (ord.equals("desc")) {
            java.util.Collections.reverse(ids);
        }
        int from = 0;
        if (after != null) {
            int at = ids.indexOf(after);
            if (at < 0) {
                throw ApiError.invalid("after", "no video job '" + after + "'");
            }
            from = at + 1;
        }
        List<Map<String, Object>> data = new ArrayList<>();
        for (int i = from; i < ids.size() && data.size() < limit; i++) {
            Job j = jobs.get(ids.get(i));
            if (j != null) {
                data.add(j.toJson());
            }
        }
        Map<String, Object> page = new LinkedHashMap<>();
        page.put("object", "list");
        page.put("data", data);
        page.put("first_id", data.isEmpty() ? null : data.get(0).get("id"));
        page.put("last_id", data.isEmpty() ? null : data.get(data.size() - 1).get("id"));
        page.put("has_more", from + data.size() < ids.size());
        return page;
    }

    private static byte[] playground() {
        try (InputStream in = VideoServer.class.getResourceAsStream("playground.html")) {
            if (in == null) {
                return "<!doctype html><p>playground missing</p>".getBytes(StandardCharsets.UTF_8);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean json(Response response, Callback callback, int status, Object body) {
        try {
            return send(response, callback, status, "application/json", JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean send(Response response, Callback callback, int status, String type, byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return true;
    }
}
