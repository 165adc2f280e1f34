package org.example.embed;

import io.diffuse.api.embed.Diffuse;
import io.diffuse.api.embed.DiffuseEngine;
import io.diffuse.api.embed.VideoRequest;
import io.diffuse.api.embed.VideoResult;
import io.diffuse.api.model.ProgressListener;
import java.nio.file.Path;

/**
 * Generates a video from plain Java: {@code GenerateVideo OUT.mp4 [RANKS] [MODEL]}. With RANKS > 1 it
 * starts that many local rank processes of itself (each joins the world and runs the same request).
 */
public final class GenerateVideo {
    private GenerateVideo() {
    }

    public static void main(String[] args) {
        Path output = Path.of(args.length > 0 ? args[0] : "embedded.mp4");
        int ranks = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        String model = args.length > 2 ? args[2] : "builtin:demo";
        if (ranks > 1 && !Diffuse.isRank()) {
            System.exit(Diffuse.launchLocalRanks(ranks, GenerateVideo.class, args));
        }
        try (DiffuseEngine engine = Diffuse.builder().set("diffuse.generate.model", model).build()) {
            VideoRequest request = VideoRequest.builder()
                    .prompt("a red fox running through snow")
                    .size(64, 64).numFrames(9).numInferenceSteps(3).seed(42)
                    .output(output)
                    .build();
            VideoResult result = engine.generate(request, new ProgressListener() {
                @Override
                public void step(String stage, int step, int total) {
                    if (engine.rank() == 0) {
                        System.out.println(stage + " step " + step + "/" + total);
                    }
                }
            });
            if (engine.rank() == 0) {
                System.out.println("rank 0 of " + engine.worldSize() + " wrote " + result.written() + " with " + engine.model());
            }
        }
    }
}
