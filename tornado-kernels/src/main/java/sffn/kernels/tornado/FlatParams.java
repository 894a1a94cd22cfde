package sffn.kernels.tornado;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import sffn.kernels.AdamW;
import sffn.kernels.GradNorm;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.AdamWFlat;
import sffn.kernels.plan.KernelCall.AdamWUpdate;
import sffn.kernels.plan.KernelCall.AdamWUpdateGroup;
import sffn.kernels.plan.KernelCall.GradNormFlat;
import sffn.kernels.plan.KernelCall.GradNormPartials;
import sffn.kernels.plan.KernelCall.GradNormPartialsGroup;
import sffn.kernels.plan.KernelCall.Zero;
import sffn.kernels.plan.KernelCall.ZeroFour;

/**
 * The parameters the optimizer updates, with their gradients and AdamW moments, kept on the
 * device in eight shared arrays: values, gradients, first and second moments of the weights, and
 * the same of the biases (a kernel that reads a weight may read its bias beside it, and a task
 * cannot take one array twice). Each tensor is a slice starting at a multiple of
 * {@link GradNorm#CHUNK}, zeros between. The optimizer then takes one launch for AdamW over every
 * parameter ({@link AdamWFlat}), one for the gradient norm's partial sums ({@link GradNormFlat},
 * each chunk into the slot the plan gave it, so the norm keeps its bits) and one per shared array
 * to zero the gradients, in place of the plan's calls of a few tensors each; every other kernel
 * takes a parameter or gradient as its shared array and an offset ({@link DeviceSlices}).
 *
 * <p>{@link #plan} keeps the plans' own arrays, and says why, where that cannot hold: cuBLAS
 * library tasks take whole arrays; a parameter passed where a kernel takes no offset; one used as
 * a weight in one call and a bias in another; optimizer calls spread over several sections or
 * covering only some parameters (a ZeRO shard); more elements than one array holds.
 */
final class FlatParams {
    private static final int ALIGN = GradNorm.CHUNK;
    /** {@link Outcome#why} of plans without an optimizer (decoding, evaluation). */
    static final String NO_OPTIMIZER = "no AdamW calls";

    /** A parameter and its optimizer state, as the plans' AdamW calls name them. */
    private static final class Param {
        final Tensor p;
        final Tensor g;
        final Tensor m;
        final Tensor v;
        final boolean decay;
        /** Read or written where kernels take a bias; null until a kernel uses it. */
        Boolean bias;
        int base = -1;

        Param(Tensor p, Tensor g, Tensor m, Tensor v, boolean decay) {
            this.p = p;
            this.g = g;
            this.m = m;
            this.v = v;
            this.decay = decay;
        }
    }

    /** A kernel argument that takes an offset: a parameter or a gradient, of a weight or of a bias. */
    private record Use(Tensor t, boolean grad, boolean bias) {
    }

    final DeviceSlices slices;
    private final AdamWFlat adamW;
    private final GradNormFlat gradNorm;
    private final List<Tensor> shared;

    private FlatParams(DeviceSlices slices, AdamWFlat adamW, GradNormFlat gradNorm, List<Tensor> shared) {
        this.slices = slices;
        this.adamW = adamW;
        this.gradNorm = gradNorm;
        this.shared = shared;
    }

    /** The outcome of {@link #plan}: the layout, or why the plans keep their arrays. */
    record Outcome(FlatParams flat, String why) {
    }

    /** Lays out the parameters of {@code sections} (every section of every plan, as the device runs them). */
    static Outcome plan(List<List<KernelCall>> sections, MatmulVariant mm) {
        if (mm.isCublas()) return new Outcome(null, "cuBLAS library tasks take whole arrays");
        // The optimizer's parameters, in the plans' order.
        Map<float[], Param> byArray = new IdentityHashMap<>();
        List<Param> params = new ArrayList<>();
        float[] hyper = null;
        Tensor scalars = null;
        int adamSection = -1;
        for (int si = 0; si < sections.size(); si++) {
            for (KernelCall c : sections.get(si)) {
                List<Tensor[]> group;
                float[] h;
                Tensor sc;
                if (c instanceof AdamWUpdate u) {
                    group = List.<Tensor[]>of(new Tensor[] {u.p(), u.g(), u.m(), u.v()});
                    h = new float[] {u.beta1(), u.beta2(), u.eps(), u.weightDecay()};
                    sc = u.scalars();
                } else if (c instanceof AdamWUpdateGroup u) {
                    group = u.params();
                    h = u.hyper().data.clone();
                    sc = u.scalars();
                } else {
                    continue;
                }
                if (adamSection >= 0 && adamSection != si) return new Outcome(null, "AdamW runs in several sections");
                adamSection = si;
                if (scalars != null && scalars != sc) return new Outcome(null, "AdamW calls read different step scalars");
                scalars = sc;
                if (hyper == null) {
                    hyper = h.clone();
                } else {
                    for (int i = 0; i < AdamW.WEIGHT_DECAY; i++) {
                        if (Float.compare(hyper[i], h[i]) != 0) return new Outcome(null, "AdamW calls differ in beta1, beta2 or eps");
                    }
                    if (h[AdamW.WEIGHT_DECAY] != 0f) {
                        if (hyper[AdamW.WEIGHT_DECAY] != 0f && Float.compare(hyper[AdamW.WEIGHT_DECAY], h[AdamW.WEIGHT_DECAY]) != 0) {
                            return new Outcome(null, "AdamW calls decay weights by different amounts");
                        }
                        hyper[AdamW.WEIGHT_DECAY] = h[AdamW.WEIGHT_DECAY];
                    }
                }
                for (Tensor[] t : group) {
                    Param p = new Param(t[0], t[1], t[2], t[3], h[AdamW.WEIGHT_DECAY] != 0f);
                    for (Tensor x : t) {
                        if (byArray.put(x.data, p) != null) return new Outcome(null, x.name + " is in two AdamW calls");
                    }
                    params.add(p);
                }
            }
        }
        if (params.isEmpty()) return new Outcome(null, NO_OPTIMIZER);

        // Every other use of their arrays must take an offset, with one kind per parameter.
        Tensor partials = null;
        int normSection = -1;
        int zeroSection = -1;
        int zeroed = 0;
        for (int si = 0; si < sections.size(); si++) {
            for (KernelCall c : sections.get(si)) {
                if (c instanceof AdamWUpdate || c instanceof AdamWUpdateGroup) continue;
                if (c instanceof GradNormPartials || c instanceof GradNormPartialsGroup) {
                    List<Tensor> grads;
                    Tensor part;
                    int base;
                    if (c instanceof GradNormPartials n) {
                        grads = List.of(n.g());
                        part = n.partials();
                        base = n.base();
                    } else {
                        GradNormPartialsGroup n = (GradNormPartialsGroup) c;
                        grads = n.grads();
                        part = n.partials();
                        base = n.base();
                    }
                    if ((normSection >= 0 && normSection != si) || (partials != null && partials != part)) {
                        return new Outcome(null, "the gradient norm's partial sums run in several sections");
                    }
                    normSection = si;
                    partials = part;
                    for (Tensor g : grads) {
                        Param p = byArray.get(g.data);
                        if (p == null || p.g != g) {
                            return new Outcome(null, "the gradient norm reads " + g.name + ", which AdamW does not update (a ZeRO-1 shard?)");
                        }
                        p.base = base;
                        base += GradNorm.slots(g.size());
                    }
                    continue;
                }
                if (c instanceof Zero || c instanceof ZeroFour) {
                    List<Tensor> zs = c instanceof ZeroFour z4 ? List.of(z4.a(), z4.b(), z4.c(), z4.d()) : List.of(((Zero) c).x());
                    int ours = 0;
                    for (Tensor z : zs) {
                        Param p = byArray.get(z.data);
                        if (p != null && p.g != z) return new Outcome(null, "a zeroing call writes " + z.name);
                        if (p != null) ours++;
                    }
                    if (ours == 0) continue;
                    if (ours != zs.size()) {
                        return new Outcome(null, "a zeroing call also writes gradients AdamW does not update (a ZeRO-1 shard?)");
                    }
                    if (zeroSection >= 0 && zeroSection != si) return new Outcome(null, "the gradients are zeroed in several sections");
                    zeroSection = si;
                    zeroed += ours;
                    continue;
                }
                String why = checkUses(c, byArray);
                if (why != null) return new Outcome(null, why);
            }
        }
        if (partials == null) return new Outcome(null, "no gradient-norm calls");
        for (Param p : params) {
            if (p.base < 0) return new Outcome(null, "the gradient norm skips " + p.g.name);
        }
        if (zeroSection >= 0 && zeroed != params.size()) return new Outcome(null, "some gradients are zeroed, others not");

        // The layout: weights, then biases; decayed first in each.
        List<Param> w = new ArrayList<>();
        List<Param> b = new ArrayList<>();
        for (boolean decay : new boolean[] {true, false}) {
            for (Param p : params) {
                if (p.decay == decay) (Boolean.TRUE.equals(p.bias) ? b : w).add(p);
            }
        }
        long nWl = padded(w);
        long nBl = padded(b);
        if (nWl + nBl > Integer.MAX_VALUE - 8) return new Outcome(null, "the parameters hold more elements than one array");
        int nW = (int) nWl;
        int nB = (int) nBl;
        Tensor[] sw = {new Tensor("flat.w", Math.max(1, nW)), new Tensor("flat.w.grad", Math.max(1, nW)),
                new Tensor("flat.w.adam_m", Math.max(1, nW)), new Tensor("flat.w.adam_v", Math.max(1, nW))};
        Tensor[] sb = {new Tensor("flat.b", Math.max(1, nB)), new Tensor("flat.b.grad", Math.max(1, nB)),
                new Tensor("flat.b.adam_m", Math.max(1, nB)), new Tensor("flat.b.adam_v", Math.max(1, nB))};
        Map<float[], DeviceSlices.Slice> members = new IdentityHashMap<>();
        IntTensor slotOf = new IntTensor("flat.grad_norm.slots", Math.max(1, (nW + nB) / ALIGN));
        int decayW = place(w, sw, members, slotOf, 0);
        int decayB = place(b, sb, members, slotOf, nW / ALIGN);
        Tensor h = new Tensor("flat.adamw", 4);
        System.arraycopy(hyper, 0, h.data, 0, 4);
        AdamWFlat adamW = new AdamWFlat(sw[0], sw[1], sw[2], sw[3], sb[0], sb[1], sb[2], sb[3], scalars, h, nW, nB, decayW, decayB);
        GradNormFlat norm = new GradNormFlat(sw[1], sb[1], partials, slotOf, nW / ALIGN, nB / ALIGN);
        List<Tensor> shared = new ArrayList<>(List.of(sw));
        shared.addAll(List.of(sb));
        return new Outcome(new FlatParams(new DeviceSlices(members), adamW, norm, shared), null);
    }

    private static long padded(List<Param> ps) {
        long n = 0;
        for (Param p : ps) n += (long) GradNorm.slots(p.p.size()) * ALIGN;
        return n;
    }

    /**
     * Places {@code ps} one after another in the shared arrays {@code s} (value, gradient,
     * moments), their chunks' slots from {@code f}; returns where the decayed ones end.
     */
    private static int place(List<Param> ps, Tensor[] s, Map<float[], DeviceSlices.Slice> members, IntTensor slotOf, int f) {
        int at = 0;
        int decayEnd = 0;
        for (Param p : ps) {
            Tensor[] t = {p.p, p.g, p.m, p.v};
            for (int i = 0; i < 4; i++) members.put(t[i].data, new DeviceSlices.Slice(s[i].data, at));
            int chunks = GradNorm.slots(p.p.size());
            for (int c = 0; c < chunks; c++) slotOf.data[f++] = p.base + c;
            at += chunks * ALIGN;
            if (p.decay) decayEnd = at;
        }
        return decayEnd;
    }

    /**
     * Why {@code c} cannot run on the layout, or null: each parameter array it takes must be an
     * argument with an offset, as the parameter's value or gradient, of one kind (weight or bias)
     * in every call, and no two of its arguments may share an array.
     */
    private static String checkUses(KernelCall c, Map<float[], Param> byArray) {
        Map<float[], Boolean> offsetUses = new IdentityHashMap<>();
        Map<String, Boolean> sharedUsed = new LinkedHashMap<>();
        List<Use> uses = new ArrayList<>();
        uses(c, uses::add);
        for (Use u : uses) {
            Param p = byArray.get(u.t().data);
            if (p == null) continue;
            if (u.t() != (u.grad() ? p.g : p.p)) {
                return c.getClass().getSimpleName() + " takes " + u.t().name + " where it takes a " + (u.grad() ? "gradient" : "parameter");
            }
            if (p.bias != null && p.bias != u.bias()) return p.p.name + " is read as a weight in one call and a bias in another";
            p.bias = u.bias();
            String array = (u.bias() ? "b" : "w") + (u.grad() ? ".grad" : "");
            if (sharedUsed.put(array, Boolean.TRUE) != null) {
                return c.getClass().getSimpleName() + " takes two parameters of one kind, " + array;
            }
            offsetUses.put(u.t().data, Boolean.TRUE);
        }
        List<Object> all = new ArrayList<>();
        Residency.arrays(c, all::add);
        for (Object a : all) {
            Param p = a instanceof float[] f ? byArray.get(f) : null;
            if (p != null && !offsetUses.containsKey(a)) {
                return c.getClass().getSimpleName() + " takes " + p.p.name + " (or its gradient or moments) without an offset";
            }
        }
        return null;
    }

    /** The arguments {@link TaskMapper} passes as an array and an offset: parameters and gradients. */
    private static void uses(KernelCall call, Consumer<Use> out) {
        switch (call) {
            case KernelCall.MatmulForward c -> {
                out.accept(new Use(c.b(), false, false));
                if (c.bias() != null) out.accept(new Use(c.bias(), false, true));
            }
            case KernelCall.MatmulBackwardInput c -> out.accept(new Use(c.b(), false, false));
            case KernelCall.MatmulBackwardWeight c -> out.accept(new Use(c.db(), true, false));
            case KernelCall.BiasAdd c -> out.accept(new Use(c.bias(), false, true));
            case KernelCall.BiasBackward c -> out.accept(new Use(c.dbias(), true, true));
            case KernelCall.BlockDiagForward c -> out.accept(new Use(c.w(), false, false));
            case KernelCall.BlockDiagBackwardInput c -> out.accept(new Use(c.w(), false, false));
            case KernelCall.BlockDiagBackwardWeight c -> out.accept(new Use(c.dw(), true, false));
            case KernelCall.LayerNormForward c -> {
                out.accept(new Use(c.w(), false, false));
                out.accept(new Use(c.b(), false, true));
            }
            case KernelCall.LayerNormBackward c -> {
                out.accept(new Use(c.w(), false, false));
                out.accept(new Use(c.dw(), true, false));
                out.accept(new Use(c.db(), true, true));
            }
            case KernelCall.RmsNormForward c -> out.accept(new Use(c.w(), false, false));
            case KernelCall.RmsNormBackward c -> {
                out.accept(new Use(c.w(), false, false));
                out.accept(new Use(c.dw(), true, false));
            }
            case KernelCall.EmbeddingForward c -> out.accept(new Use(c.wte(), false, false));
            case KernelCall.PositionsAdd c -> out.accept(new Use(c.wpe(), false, false));
            case KernelCall.PositionsAddAt c -> out.accept(new Use(c.wpe(), false, false));
            case KernelCall.EmbeddingBackward c -> out.accept(new Use(c.dwte(), true, false));
            case KernelCall.PositionsBackward c -> out.accept(new Use(c.dwpe(), true, false));
            case KernelCall.ResidualLayerNorm c -> {
                out.accept(new Use(c.w(), false, false));
                out.accept(new Use(c.b(), false, true));
            }
            case KernelCall.ResidualRmsNorm c -> out.accept(new Use(c.w(), false, false));
            case KernelCall.MatmulGeluForward c -> {
                out.accept(new Use(c.b(), false, false));
                if (c.bias() != null) out.accept(new Use(c.bias(), false, true));
            }
            case KernelCall.GuidedMatmulForward c -> out.accept(new Use(c.guide(), false, false));
            case KernelCall.WhenGuided c -> uses(c.inner(), out);
            default -> {
            }
        }
    }

    /**
     * The calls as the device runs them on this layout: the first AdamW call becomes
     * {@link AdamWFlat}, the first partial-sum call {@link GradNormFlat}, the first call that
     * zeroes gradients a {@link Zero} of each shared gradient array; the others of those kinds go.
     */
    List<KernelCall> rewrite(List<KernelCall> calls) {
        List<KernelCall> out = new ArrayList<>(calls.size());
        boolean adam = false;
        boolean norm = false;
        boolean zero = false;
        for (KernelCall c : calls) {
            if (c instanceof AdamWUpdate || c instanceof AdamWUpdateGroup) {
                if (!adam) out.add(adamW);
                adam = true;
            } else if (c instanceof GradNormPartials || c instanceof GradNormPartialsGroup) {
                if (!norm) out.add(gradNorm);
                norm = true;
            } else if ((c instanceof Zero z && isMember(z.x().data)) || (c instanceof ZeroFour z4 && isMember(z4.a().data))) {
                if (!zero) {
                    out.add(new Zero(adamW.gW()));
                    out.add(new Zero(adamW.gB()));
                }
                zero = true;
            } else {
                out.add(c);
            }
        }
        return out;
    }

    /** Whether a host array is a member's (a slice of a shared array on the device). */
    boolean isMember(Object hostArray) {
        return slices.of(hostArray) != null;
    }

    /** The members' host arrays. */
    java.util.Set<float[]> memberArrays() {
        return slices.members();
    }

    /** Copies every member's host values into its slice of the shared host arrays, before they go up. */
    void gather() {
        for (float[] m : slices.members()) {
            DeviceSlices.Slice s = slices.of(m);
            System.arraycopy(m, 0, s.shared(), s.offset(), m.length);
        }
    }

    /** Copies a member's slice of the shared host arrays (just brought down) into its host array. */
    void scatter(float[] member) {
        DeviceSlices.Slice s = slices.of(member);
        System.arraycopy(s.shared(), s.offset(), member, 0, member.length);
    }

    /** Whether a host array is one of the shared arrays. */
    boolean isShared(Object hostArray) {
        for (Tensor t : shared) if (t.data == hostArray) return true;
        return false;
    }

    /** The shared array a member lives in. */
    float[] sharedOf(float[] member) {
        return slices.of(member).shared();
    }
}
