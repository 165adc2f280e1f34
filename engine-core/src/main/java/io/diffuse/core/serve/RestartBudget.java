package io.diffuse.core.serve;

import java.util.Map;

/**
 * How many times the ranks may still be restarted after a rank fails, as torchrun tells its workers
 * ({@code TORCHELASTIC_RESTART_COUNT}, {@code TORCHELASTIC_MAX_RESTARTS}); Diffuse's own launcher
 * sets the same variables. Rank 0 keeps the queued jobs for the restarted ranks only when a restart
 * follows; otherwise it fails them with the reason.
 */
record RestartBudget(int count, int max) {
    static final String COUNT = "TORCHELASTIC_RESTART_COUNT";
    static final String MAX = "TORCHELASTIC_MAX_RESTARTS";

    static RestartBudget from(Map<String, String> environment) {
        return new RestartBudget(parse(environment.get(COUNT)), parse(environment.get(MAX)));
    }

    private static int parse(String value) {
        try {
            return value == null ? 0 : Math.max(0, Integer.parseInt(value.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    boolean anyLeft() {
        return count < max;
    }

    /** "restart 2 of 3" for the restart that follows a failure now. */
    String next() {
        return "restart " + (count + 1) + " of " + max;
    }

    /** Where this run stands, e.g. "after restart 1 of 3" or "no restarts configured". */
    String describe() {
        if (max == 0) {
            return "no restarts configured: diffuse.serve.max-restarts = 0";
        }
        return count == 0 ? "restarts left: " + max + " of " + max : "after restart " + count + " of " + max
                + (anyLeft() ? "" : "; no restarts left (diffuse.serve.max-restarts)");
    }
}
