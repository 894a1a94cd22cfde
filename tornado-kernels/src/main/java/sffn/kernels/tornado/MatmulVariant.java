package sffn.kernels.tornado;

import java.util.Locale;
import sffn.kernels.TiledGemm;

/**
 * Which body the TornadoVM backend runs for the matmul family (dense forward, backward-input,
 * backward-weight, and the block-diagonal three): the loop-parallel portable bodies, the 16 x 16
 * local-memory kernels of {@link sffn.kernels.Matmul} (one output per work-item; dense only, the
 * block-diagonal products stay loop-parallel), the register-tiled {@link TiledGemm} at a tile
 * shape, or cuBLAS library tasks ({@link CublasTasks}: devices of TornadoVM's CUDA backend; FP32, or
 * with {@code cublas-tf32} TF32 tensor-core math).
 *
 * @param tiles the register-tiled shape; null for {@code loop} and {@code tile16}
 */
public record MatmulVariant(String kind, TiledGemm.Tiles tiles) {
    /**
     * System property: {@code loop}, {@code tile16}, {@code reg} (the device's tuned or table choice),
     * {@code reg:<shape>}, {@code cublas}, {@code cublas-tf32}, or {@code auto} (cuBLAS where the device
     * offers it, else {@code reg}).
     */
    public static final String PROPERTY = "sffn.tornado.matmul";

    public static final MatmulVariant LOOP = new MatmulVariant("loop", null);
    public static final MatmulVariant TILE16 = new MatmulVariant("tile16", null);
    public static final MatmulVariant CUBLAS = new MatmulVariant("cublas", null);
    public static final MatmulVariant CUBLAS_TF32 = new MatmulVariant("cublas-tf32", null);
    /** {@link #PROPERTY}'s value that asks for cuBLAS where the device offers it. */
    public static final String AUTO = "auto";

    public static MatmulVariant register(TiledGemm.Tiles tiles) {
        return new MatmulVariant("reg", tiles);
    }

    public boolean isRegister() {
        return tiles != null;
    }

    public boolean isCublas() {
        return kind.startsWith("cublas");
    }

    /** cuBLAS may use TF32 tensor-core math. */
    public boolean tf32() {
        return kind.equals("cublas-tf32");
    }

    /** {@code loop}, {@code tile16}, {@code cublas}, {@code cublas-tf32} or e.g. {@code reg 64x64/4x4}. */
    public String label() {
        return tiles == null ? kind : kind + " " + tiles.label();
    }

    /**
     * Parses {@code loop}, {@code tile16}, {@code cublas}, {@code cublas-tf32}, {@code reg:T64} (or
     * {@code reg:64x64/4x4}); {@code reg} and {@code auto} return null: the caller picks for its
     * device ({@link #isAuto} tells them apart).
     */
    static MatmulVariant parseOrNull(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("loop")) return LOOP;
        if (v.equals("tile16")) return TILE16;
        if (v.equals("cublas")) return CUBLAS;
        if (v.equals("cublas-tf32")) return CUBLAS_TF32;
        if (v.equals("reg") || v.equals(AUTO)) return null;
        if (v.startsWith("reg:")) return register(TiledGemm.Tiles.parse(s.trim().substring(4)));
        throw new IllegalArgumentException("-D" + PROPERTY + "=" + s + ": choose loop, tile16, reg, reg:<shape>, cublas,"
                + " cublas-tf32 or auto (shapes: " + java.util.Arrays.toString(TiledGemm.Tiles.values()) + ")");
    }

    static boolean isAuto(String s) {
        return s.trim().equalsIgnoreCase(AUTO);
    }
}
