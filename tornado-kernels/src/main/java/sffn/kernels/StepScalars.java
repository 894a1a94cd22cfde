package sffn.kernels;

/**
 * Slots of the per-step scalar buffer. Values that change every step (learning rate, the guide
 * weight, Adam's bias corrections) travel to the device in one small array instead of being
 * baked into compiled kernels; values that kernels compute for later kernels (the gradient norm,
 * the clipping factor) stay on the device in it.
 */
public final class StepScalars {
    /** Learning rate of this step. */
    public static final int LR = 0;
    /** {@code 1 - beta1^t}. */
    public static final int BIAS_CORRECTION1 = 1;
    /** {@code 1 - beta2^t}. */
    public static final int BIAS_CORRECTION2 = 2;
    /** Factor applied to gradients by the optimizer: {@code min(1, maxNorm / norm)}. */
    public static final int CLIP_SCALE = 3;
    /** Global gradient norm before clipping. */
    public static final int GRAD_NORM = 4;
    /** Self-guided weight {@code a} of the dense guide. */
    public static final int GUIDE_ALPHA = 5;
    /** Factor of the cross-entropy gradient: 1 / (counted targets of the whole step). */
    public static final int LOSS_SCALE = 6;
    /** First of the per-layer guide switches (1 runs the guide branch this micro-step, 0 skips it). */
    public static final int GUIDE_SWITCHES = 8;

    private StepScalars() {
    }

    /** Length of the scalar buffer for a model with {@code guidedLinears} guided linears. */
    public static int size(int guidedLinears) {
        return GUIDE_SWITCHES + guidedLinears;
    }
}
