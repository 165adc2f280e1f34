package io.diffuse.core.video;

import io.diffuse.api.DiffuseException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * The containers a video file's extension may name: those FFmpeg muxes H.264 and MPEG-4 Part 2 (the
 * writer's encoders) into. Pure Java, so the launcher checks a name without loading FFmpeg's natives;
 * {@link Mp4Writer} checks the muxer against the loaded natives again when it writes.
 */
public final class VideoContainers {
    /** Extension to FFmpeg muxer name. */
    private static final Map<String, String> MUXERS = Map.of("mp4", "mp4", "mov", "mov", "mkv", "matroska", "avi", "avi");

    private VideoContainers() {
    }

    /**
     * The FFmpeg muxer for {@code target}'s extension.
     *
     * @throws DiffuseException (one line) for a name whose extension is not one of them
     */
    public static String muxerFor(Path target) {
        String name = target.getFileName() == null ? "" : target.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String muxer = dot < 0 ? null : MUXERS.get(name.substring(dot + 1).toLowerCase(Locale.ROOT));
        if (muxer == null) {
            throw new DiffuseException(target + ": '" + (dot < 0 ? name : name.substring(dot))
                    + "' is not a container the video is written in; end the name in .mp4 (or .mkv, .mov, .avi)");
        }
        return muxer;
    }
}
