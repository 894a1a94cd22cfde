package sffn.kernels.tornado;

import java.util.Locale;
import sffn.kernels.TiledGemm;

/**
 * Which body the TornadoVM backend runs for the matmul family (dense forward, backward-input,
 * backward-weight, and the block-diagonal three): the loop-parallel portable bodies, the 16 x 16
 * local-memory kernels of {@link sffn.kernels.Matmul} (one output per work-item; dense only, the
 * block-diagonal products stay loop-parallel), or the register-tiled {@link TiledGemm} at a tile
 * shape.
 *
 * @param tiles the register-tiled shape; null for {@code loop} and {@code tile16}
 */
public record MatmulVariant(String kind, TiledGemm.Tiles tiles) {
    /** System property: {@code loop}, {@code tile16}, {@code reg} (the device's tuned or table choice) or {@code reg:<shape>}. */
    public static final String PROPERTY = "sffn.tornado.matmul";

    public static final MatmulVariant LOOP = new MatmulVariant("loop", null);
    public static final MatmulVariant TILE16 = new MatmulVariant("tile16", null);

    public static MatmulVariant register(TiledGemm.Tiles tiles) {
        return new MatmulVariant("reg", tiles);
    }

    public boolean isRegister() {
        return tiles != null;
    }

    /** {@code loop}, {@code tile16} or e.g. {@code reg 64x64/4x4}. */
    public String label() {
        return tiles == null ? kind : kind + " " + tiles.label();
    }

    /**
     * Parses {@code loop}, {@code tile16}, {@code reg:T64} (or {@code reg:64x64/4x4}); {@code reg}
     * alone returns null: the caller picks the shape for its device.
     */
    static MatmulVariant parseOrNull(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("loop")) return LOOP;
        if (v.equals("tile16")) return TILE16;
        if (v.equals("reg") || v.equals("auto")) return null;
        if (v.startsWith("reg:")) return register(TiledGemm.Tiles.parse(s.trim().substring(4)));
        throw new IllegalArgumentException("-D" + PROPERTY + "=" + s + ": choose loop, tile16, reg or reg:<shape> (shapes: "
                + java.util.Arrays.toString(TiledGemm.Tiles.values()) + ")");
    }
}
