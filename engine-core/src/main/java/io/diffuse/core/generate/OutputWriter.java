package io.diffuse.core.generate;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.core.video.Mp4Writer;
import io.diffuse.core.video.OutputTransaction;
import io.diffuse.core.video.VideoExport;
import java.util.ArrayList;
import java.util.List;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Tensor;

/** Writes a result's outputs (tensors, PNG frames, MP4), each under a temporary name renamed when complete. */
final class OutputWriter {
    private OutputWriter() {
    }

    /**
     * Stages every output complete, then moves them all into place (see {@link OutputTransaction}): a
     * failure or a graceful stop (Ctrl-C) part way leaves neither a temporary nor any output of this run.
     */
    static void write(GenerationResult result, GenerateSettings request, CheckpointLoader checkpoints,
            Consumer<String> written) {
        GenerateSettings.Outputs outputs = request.outputs();
        if ((outputs.mp4().isPresent() || outputs.pngFrames().isPresent()) && result.video() == null) {
            throw new DiffuseException("rank 0 received no decoded video; set diffuse.vae.result-on-all-ranks or "
                    + "use a VAE executor that returns the video to rank 0");
        }
        List<String> lines = new ArrayList<>();
        try (OutputTransaction tx = new OutputTransaction()) {
            if (outputs.tensors().isPresent()) {
                Map<String, Tensor> t = new LinkedHashMap<>();
                t.put("latents", result.latents().contiguous());
                if (result.video() != null) {
                    t.put("video", result.video().contiguous());
                }
                tx.file(outputs.tensors().get(), staging -> checkpoints.writeTensors(staging, t));
                lines.add("wrote " + outputs.tensors().get() + " (latents " + shape(result.latents())
                        + (result.video() != null ? ", video " + shape(result.video()) : "") + ")");
            }
            if (outputs.pngFrames().isPresent()) {
                tx.directory(outputs.pngFrames().get(), staging -> VideoExport.writePngFramesInto(result.video(), staging));
                lines.add("wrote " + outputs.pngFrames().get() + " (" + result.video().size(2) + " PNG frames of "
                        + VideoSize.of(result.video()) + sizeNote(request, result) + ")");
            }
            if (outputs.mp4().isPresent()) {
                // The container the name asks for; the file is staged under a temporary name.
                Mp4Writer writer = new Mp4Writer(outputs.fps()).forName(outputs.mp4().get());
                tx.file(outputs.mp4().get(), staging -> VideoExport.writeMp4(result.video(), staging, writer));
                lines.add("wrote " + outputs.mp4().get() + " (" + VideoSize.of(result.video()) + ", " + result.video().size(2)
                        + " frames, " + writer.encoder() + ", " + writer.fps() + " fps" + sizeNote(request, result) + ")");
            }
            tx.commit();
        }
        lines.forEach(written);
    }

    /** Why the size written is not the one asked for, or "" when it is (or none was asked). */
    static String sizeNote(GenerateSettings request, GenerationResult result) {
        if (request.width().isEmpty() || request.height().isEmpty()) {
            return "";
        }
        VideoSize got = VideoSize.of(result.video());
        if (got.width() == request.width().get() && got.height() == request.height().get()) {
            return "";
        }
        return "; " + request.width().get() + "x" + request.height().get() + " was asked: "
                + (request.image().isPresent() ? "the model fits the size to the input image's aspect ratio"
                        : "the model chose this size");
    }

    private static String shape(Tensor t) {
        return Arrays.toString(t.sizes().vec().get());
    }
}
