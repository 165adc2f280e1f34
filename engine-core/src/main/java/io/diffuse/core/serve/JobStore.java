package io.diffuse.core.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's jobs on disk, one JSON file per job under {@code <output-dir>/jobs/}, written at every
 * change of status (queued, in progress, completed, failed) by an atomic rename. When the ranks are
 * restarted after a failure (or the server is started again on the same folder) rank 0 reads them
 * back: finished jobs stay readable until they expire, queued jobs run, and a job that was running
 * when the server went down is failed with that reason. So no admitted job is lost.
 */
final class JobStore {
    private static final Logger LOG = LoggerFactory.getLogger(JobStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;

    JobStore(Path outputDir) {
        this.dir = outputDir.resolve("jobs");
    }

    Path folder() {
        return dir;
    }

    /**
     * Writes the job's record (whole file replaced atomically; a reader never sees half a record).
     * One writer at a time, each taking the job's state when it writes: a job's status only moves
     * forward, so the file always ends with the latest state, whichever thread saves last.
     */
    synchronized void save(Job job) {
        try {
            write(job);
        } catch (IOException e) {
            // The job still runs; only its survival of a restart is at stake.
            LOG.warn("{}: cannot save its record under {}: {}", job.id, dir, e.toString());
        }
    }

    /** The first record of an admitted job: a job whose record cannot be written is not admitted (it would not survive a restart). */
    synchronized void create(Job job) throws IOException {
        write(job);
    }

    private void write(Job job) throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(job.id + ".json");
        Path temp = dir.resolve("." + job.id + ".json.tmp");
        try {
            Files.write(temp, JSON.writeValueAsBytes(job.record()));
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temp); // a full disk leaves no empty temporary record
            } catch (IOException notRemoved) {
                e.addSuppressed(notRemoved);
            }
            throw e;
        }
    }

    synchronized void delete(String id) throws IOException {
        Files.deleteIfExists(dir.resolve(id + ".json"));
    }

    /** Every saved job, oldest admission first; unreadable records are reported and skipped. */
    List<Map<String, Object>> load() {
        List<Map<String, Object>> records = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return records;
        }
        try (var files = Files.newDirectoryStream(dir, "video_*.json")) {
            for (Path f : files) {
                try {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> r = JSON.readValue(f.toFile(), Map.class);
                    records.add(r);
                } catch (IOException | RuntimeException e) {
                    LOG.warn("skipping the unreadable job record {}: {}", f, e.toString());
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot read the job records in {}: {}", dir, e.toString());
        }
        records.sort(java.util.Comparator.comparingLong(r -> ((Number) r.getOrDefault("admitted_at_ms", 0L)).longValue()));
        return records;
    }
}
