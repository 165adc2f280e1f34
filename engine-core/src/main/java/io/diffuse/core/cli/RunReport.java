package io.diffuse.core.cli;

import io.diffuse.api.dist.CommStats;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.distributed.GroupTraffic;
import java.util.Locale;
import java.util.Map;

/** One line saying what ran: the plan, strategy and VAE executor, and what rank 0's groups moved, per collective. */
final class RunReport {
    private RunReport() {
    }

    static String plan(EngineSettings settings, GroupTraffic moved) {
        StringBuilder sb = new StringBuilder("ran ").append(settings.parallel().plan()).append(", strategy ")
                .append(settings.parallel().strategy()).append(", vae executor ").append(settings.vae().executor())
                .append("; rank 0 moved:");
        if (moved.byKind().isEmpty()) {
            sb.append(" nothing");
        }
        for (Map.Entry<String, CommStats.Counter> e : moved.byKind().entrySet()) {
            sb.append(String.format(Locale.ROOT, " %s %d calls %d bytes sent;", e.getKey(), e.getValue().calls(),
                    e.getValue().bytesSent()));
        }
        return sb.toString();
    }
}
