package io.diffuse.core.serve;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One video job of the server: what the client asked for (as configuration flags over the
 * server's own), where it stands, and what it ran with. Guarded by its own monitor: HTTP threads
 * read it while the scheduler updates it.
 */
final class Job {
    private static final SecureRandom RANDOM = new SecureRandom();

    enum Status { queued, in_progress, completed, failed }

    final String id;
    final long createdAt;
    /** When it was admitted, in milliseconds: the order jobs run in, also after a restart. */
    final long admittedAtMillis;
    final String model;
    final String prompt;
    /** The size asked for (or planned), until the job completes: then the size it wrote. */
    private String size;
    final String seconds;
    /** The request's settings as {@code diffuse.*} keys (layered as flags over the server's). */
    final Map<String, Object> flags;
    final Path mp4;
    /** The digest of the API key that created it (null: the server had no keys); see {@link ApiKeys}. */
    volatile String owner;
    /** Done when the job ends either way (for POST /v1/videos/sync). */
    final CompletableFuture<Job> done = new CompletableFuture<>();

    private Status status = Status.queued;
    private int progress;
    private int step;
    private int steps;
    private Long startedAt;
    private Long completedAt;
    private long expiresAt;
    private String errorCode;
    private String errorMessage;
    private volatile boolean cancelRequested;
    private Map<String, Object> plan = Map.of();
    private final Map<String, Double> stageSeconds = new LinkedHashMap<>();
    /** estimate_bytes and budget_bytes when admitted, peak_bytes once it ran (see {@link JobAdmission}). */
    private final Map<String, Object> memory = new LinkedHashMap<>();

    /** A new random job id (128 random bits: not guessable, so a job is as private as its id). */
    static String newId() {
        return "video_" + HexFormat.of().formatHex(randomBytes());
    }

    Job(String id, String model, String prompt, String size, String seconds, Map<String, Object> flags, Path outputDir) {
        this(id, System.currentTimeMillis(), model, prompt, size, seconds, flags, outputDir);
    }

    private Job(String id, long admittedAtMillis, String model, String prompt, String size, String seconds,
            Map<String, Object> flags, Path outputDir) {
        this.id = id;
        this.admittedAtMillis = admittedAtMillis;
        this.createdAt = admittedAtMillis / 1000;
        this.model = model;
        this.prompt = prompt;
        this.size = size;
        this.seconds = seconds;
        this.flags = flags;
        this.mp4 = outputDir.resolve(id + ".mp4");
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return b;
    }

    synchronized Status status() {
        return status;
    }

    synchronized boolean finished() {
        return status == Status.completed || status == Status.failed;
    }

    synchronized void start(Map<String, Object> plan) {
        status = Status.in_progress;
        startedAt = System.currentTimeMillis();
        this.plan = plan;
    }

    synchronized long startedAtMillis() {
        return startedAt == null ? 0 : startedAt;
    }

    synchronized void progress(int percent) {
        progress = Math.max(progress, Math.min(100, percent));
    }

    /** The denoising step just finished (1-based) of {@code total}. */
    synchronized void step(int done, int total) {
        step = done;
        steps = total;
    }

    /** The model's estimate of its memory per rank (null = none) and the budget it was held to (null = none). */
    synchronized void memoryAdmitted(Long estimateBytes, Long budgetBytes) {
        memory.put("estimate_bytes", estimateBytes);
        memory.put("budget_bytes", budgetBytes);
    }

    /** Rank 0's measured peak above what it held before the job. */
    synchronized void memoryPeak(long peakBytes) {
        memory.put("peak_bytes", peakBytes);
    }

    /** The size of the video the job wrote ({@code WIDTHxHEIGHT}): the model may have chosen another than was asked. */
    synchronized void written(String writtenSize) {
        size = writtenSize;
    }

    synchronized void stage(String stage, double seconds) {
        stageSeconds.put(stage, seconds);
    }

    /** Ends the job; returns false if it had already ended. */
    boolean complete(long ttlSeconds) {
        synchronized (this) {
            if (finished()) {
                return false;
            }
            status = Status.completed;
            progress = 100;
            completedAt = System.currentTimeMillis() / 1000;
            expiresAt = completedAt + ttlSeconds;
        }
        done.complete(this);
        return true;
    }

    /** Fails the job with an OpenAI-style error code and a one-line message; false if it had already ended. */
    boolean fail(String code, String message, long ttlSeconds) {
        synchronized (this) {
            if (finished()) {
                return false;
            }
            status = Status.failed;
            errorCode = code;
            errorMessage = message;
            completedAt = System.currentTimeMillis() / 1000;
            expiresAt = completedAt + ttlSeconds;
        }
        done.complete(this);
        return true;
    }

    void requestCancel() {
        cancelRequested = true;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    synchronized long expiresAt() {
        return expiresAt;
    }

    synchronized String errorCode() {
        return errorCode;
    }

    /** Everything needed to bring the job back after a restart (see {@link JobStore}). */
    synchronized Map<String, Object> record() {
        Map<String, Object> r = toJson();
        r.put("admitted_at_ms", admittedAtMillis);
        r.put("started_at_ms", startedAt);
        r.put("flags", flags);
        r.put("owner", owner);
        return r;
    }

    /** A job from its {@link #record()}. */
    @SuppressWarnings("unchecked")
    static Job restore(Map<String, Object> r, Path outputDir) {
        Job j = new Job((String) r.get("id"), ((Number) r.get("admitted_at_ms")).longValue(), (String) r.get("model"),
                (String) r.get("prompt"), (String) r.get("size"), (String) r.get("seconds"),
                new LinkedHashMap<>((Map<String, Object>) r.get("flags")), outputDir);
        j.status = Status.valueOf((String) r.get("status"));
        j.owner = (String) r.get("owner");
        j.progress = ((Number) r.getOrDefault("progress", 0)).intValue();
        j.step = ((Number) r.getOrDefault("step", 0)).intValue();
        j.steps = ((Number) r.getOrDefault("steps", 0)).intValue();
        j.startedAt = r.get("started_at_ms") == null ? null : ((Number) r.get("started_at_ms")).longValue();
        j.completedAt = r.get("completed_at") == null ? null : ((Number) r.get("completed_at")).longValue();
        j.expiresAt = r.get("expires_at") == null ? 0 : ((Number) r.get("expires_at")).longValue();
        if (r.get("error") instanceof Map<?, ?> e) {
            j.errorCode = String.valueOf(e.get("code"));
            j.errorMessage = String.valueOf(e.get("message"));
        }
        if (r.get("plan") instanceof Map<?, ?> p) {
            j.plan = (Map<String, Object>) p;
        }
        if (r.get("stage_seconds") instanceof Map<?, ?> st) {
            st.forEach((k, v) -> j.stageSeconds.put(String.valueOf(k), ((Number) v).doubleValue()));
        }
        if (j.finished()) {
            j.done.complete(j);
        }
        return j;
    }

    /** The OpenAI video object, with the plan and stage timings it ran with. */
    synchronized Map<String, Object> toJson() {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("id", id);
        j.put("object", "video");
        j.put("model", model);
        j.put("status", status.name());
        j.put("progress", progress);
        j.put("step", step);
        j.put("steps", steps);
        j.put("created_at", createdAt);
        j.put("started_at", startedAt == null ? null : startedAt / 1000);
        // The queue wait to the millisecond (the timestamps are whole seconds, as OpenAI's are).
        j.put("queue_seconds", startedAt == null ? null : Math.max(0, startedAt - admittedAtMillis) / 1000.0);
        j.put("completed_at", completedAt);
        j.put("expires_at", finished() ? expiresAt : null);
        j.put("seconds", seconds);
        j.put("size", size);
        j.put("prompt", prompt);
        j.put("error", errorCode == null ? null : Map.of("code", errorCode, "message", errorMessage));
        j.put("plan", plan);
        j.put("stage_seconds", new LinkedHashMap<>(stageSeconds));
        j.put("memory", memory.isEmpty() ? null : new LinkedHashMap<>(memory));
        return j;
    }
}
