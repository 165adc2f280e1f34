package io.diffuse.core.distributed;

import io.diffuse.api.parallel.ParallelPlan;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Which global ranks form which group for a {@link ParallelPlan}: pure arithmetic, no
 * communication, so it can be checked on its own.
 *
 * <p>Layout (yunchang "ulysses low"): the world is {@code cfg} consecutive sequence-parallel blocks
 * of {@code sp = ulysses * ring} ranks. Inside a block, rank {@code b*sp + ringIdx*ulysses + uIdx}
 * is Ulysses rank {@code uIdx} of Ulysses group {@code (b, ringIdx)} (contiguous ranks) and Ring rank
 * {@code ringIdx} of Ring group {@code (b, uIdx)} (ranks strided by {@code ulysses}). The sequence
 * group is the whole block, ring-major (its group rank is {@code ringIdx*ulysses + uIdx}). Cfg groups
 * take the same position in every block. The VAE group is the first {@code plan.vae()} ranks; every
 * other rank is alone in a group of its own. Example, 8 ranks u=4 r=2: ulysses [0,1,2,3] [4,5,6,7];
 * ring [0,4] [1,5] [2,6] [3,7].
 */
public final class GroupLayout {
    private GroupLayout() {
    }

    /** The kinds of group a plan needs. */
    public enum Kind {
        WORLD("world"), ULYSSES("ulysses"), RING("ring"), SEQUENCE("sp"), CFG("cfg"), VAE("vae");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        /** The name stem of groups of this kind ("sp" for the sequence-parallel group). */
        public String label() {
            return label;
        }
    }

    /**
     * One group: its name (the kind's label, plus an index when the plan has several groups of the
     * kind) and its members as global ranks in group-rank order.
     */
    public record Group(String name, List<Integer> members) {
        public Group {
            members = List.copyOf(members);
        }

        /** Group rank of {@code globalRank}, or -1 when it is not a member. */
        public int rankOf(int globalRank) {
            return members.indexOf(globalRank);
        }

        /** Number of members. */
        public int size() {
            return members.size();
        }
    }

    /** Every group of {@code kind} in {@code plan}; each rank is in exactly one of them. */
    public static List<Group> groups(ParallelPlan plan, Kind kind) {
        int u = plan.ulysses();
        int r = plan.ring();
        int sp = plan.sequence();
        List<List<Integer>> lists = new ArrayList<>();
        switch (kind) {
            case WORLD -> lists.add(range(0, plan.world(), 1));
            case ULYSSES -> {
                for (int b = 0; b < plan.cfg(); b++) {
                    for (int ringIdx = 0; ringIdx < r; ringIdx++) {
                        lists.add(range(b * sp + ringIdx * u, u, 1));
                    }
                }
            }
            case RING -> {
                for (int b = 0; b < plan.cfg(); b++) {
                    for (int uIdx = 0; uIdx < u; uIdx++) {
                        lists.add(range(b * sp + uIdx, r, u));
                    }
                }
            }
            case SEQUENCE -> {
                for (int b = 0; b < plan.cfg(); b++) {
                    lists.add(range(b * sp, sp, 1));
                }
            }
            case CFG -> {
                for (int pos = 0; pos < sp; pos++) {
                    lists.add(range(pos, plan.cfg(), sp));
                }
            }
            case VAE -> {
                List<Group> vae = new ArrayList<>();
                vae.add(new Group(kind.label(), range(0, plan.vae(), 1)));
                for (int rank = plan.vae(); rank < plan.world(); rank++) {
                    vae.add(new Group(kind.label() + "-solo-" + rank, List.of(rank)));
                }
                return vae;
            }
            default -> throw new IllegalStateException(kind.toString());
        }
        List<Group> out = new ArrayList<>();
        for (int i = 0; i < lists.size(); i++) {
            out.add(new Group(lists.size() == 1 ? kind.label() : kind.label() + "-" + i, lists.get(i)));
        }
        return out;
    }

    /** The group of {@code kind} that holds {@code globalRank}. */
    public static Group groupOf(ParallelPlan plan, Kind kind, int globalRank) {
        if (globalRank < 0 || globalRank >= plan.world()) {
            throw new IllegalArgumentException("rank " + globalRank + " is outside the " + plan.world() + " ranks of " + plan);
        }
        return groups(plan, kind).stream().filter(g -> g.rankOf(globalRank) >= 0).findFirst().orElseThrow();
    }

    /** A short key naming the layout, used to keep store keys of different layouts apart. */
    public static String key(ParallelPlan plan) {
        return "w" + plan.world() + "u" + plan.ulysses() + "r" + plan.ring() + "c" + plan.cfg() + "v" + plan.vae();
    }

    /**
     * The group of {@code kind} that holds {@code globalRank} when {@code plan} runs on the lane of
     * world ranks {@code laneFirst .. laneFirst + plan.world() - 1}: the plan's layout shifted by
     * {@code laneFirst}, so that several jobs can run on disjoint lanes of one world.
     */
    public static Group groupOf(ParallelPlan plan, Kind kind, int globalRank, int laneFirst) {
        Group inLane = groupOf(plan, kind, globalRank - laneFirst);
        return new Group(inLane.name(), inLane.members().stream().map(r -> r + laneFirst).toList());
    }

    /** {@link #key(ParallelPlan)} of {@code plan} on the lane starting at world rank {@code laneFirst}. */
    public static String key(ParallelPlan plan, int laneFirst) {
        return laneFirst == 0 ? key(plan) : "l" + laneFirst + key(plan);
    }

    private static List<Integer> range(int start, int count, int stride) {
        return IntStream.range(0, count).mapToObj(i -> start + i * stride).toList();
    }
}
