package io.diffuse.core.generate;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.core.video.Mp4Writer;
import io.diffuse.core.video.VideoExport;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Tensor;

/** Writes a result's outputs (tensors, PNG frames, MP4), each under a temporary name renamed when complete. */
final class OutputWriter {
    private OutputWriter() {
    }

    static void write(GenerationResult result, GenerateSettings.Outputs outputs, CheckpointLoader checkpoints,
            Consumer<String> written) {
        if (outputs.tensors().isPresent()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put("latents", result.latents().contiguous());
            if (result.video() != null) {
                t.put("video", result.video().contiguous());
            }
            checkpoints.writeTensors(outputs.tensors().get(), t);
            written.accept("wrote " + outputs.tensors().get() + " (latents " + shape(result.latents())
                    + (result.video() != null ? ", video " + shape(result.video()) : "") + ")");
        }
        if ((outputs.mp4().isPresent() || outputs.pngFrames().isPresent()) && result.video() == null) {
            throw new DiffuseException("rank 0 received no decoded video; set diffuse.vae.result-on-all-ranks or "
                    + "use a VAE executor that returns the video to rank 0");
        }
        if (outputs.pngFrames().isPresent()) {
            for (Path p : VideoExport.writePngFrames(result.video(), outputs.pngFrames().get())) {
                written.accept("wrote " + p + " (" + result.video().size(2) + " PNG frames)");
            }
        }
        if (outputs.mp4().isPresent()) {
            Mp4Writer writer = new Mp4Writer(outputs.fps());
            for (Path p : VideoExport.writeMp4(result.video(), outputs.mp4().get(), writer)) {
                written.accept("wrote " + p + " (" + writer.encoder() + ", " + writer.fps() + " fps)");
            }
        }
    }

    private static String shape(Tensor t) {
        return Arrays.toString(t.sizes().vec().get());
    }
}
