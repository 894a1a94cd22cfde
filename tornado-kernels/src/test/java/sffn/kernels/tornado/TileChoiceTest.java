package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.TiledGemm;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;

/** The tile shape's table and tuned cache, and the matmul variant property (no device needed). */
class TileChoiceTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        System.clearProperty(TileChoice.CACHE_PROPERTY);
    }

    @Test
    void tableGivesCpuDevicesEightByEightAndGpusFourByFourUntilTuned() {
        assertEquals(TiledGemm.Tiles.T64, TileChoice.table(TornadoDeviceType.GPU, 48 * 1024));
        assertEquals(TiledGemm.Tiles.T128, TileChoice.table(TornadoDeviceType.CPU, 1 << 20));
        // devices whose local memory cannot hold the larger shapes' slices
        assertEquals(TiledGemm.Tiles.T32, TileChoice.table(TornadoDeviceType.GPU, 4 * 1024));
        assertEquals(TiledGemm.Tiles.T32, TileChoice.table(TornadoDeviceType.CPU, 4 * 1024));
        for (TiledGemm.Tiles t : TiledGemm.Tiles.values()) {
            assertTrue(t.localBytes() <= 16 * 1024, t + " fits the 16 KiB OpenCL minimum");
        }
    }

    @Test
    void everyShapeDividesItsTileAmongItsWorkItemsAndParsesByItsLabel() {
        for (TiledGemm.Tiles t : TiledGemm.Tiles.values()) {
            assertEquals(0, t.bm % t.ty, t.name());
            assertEquals(0, t.bn % t.tx, t.name());
            assertEquals(t, MatmulVariant.parseOrNull("reg:" + t.label()).tiles());
        }
    }

    @Test
    void aTunedChoiceIsFoundAgainAndOtherDevicesKeepTheirs() throws IOException {
        System.setProperty(TileChoice.CACHE_PROPERTY, dir.resolve("cache").toString());
        assertNull(TileChoice.tuned("gpu-a"));
        TileChoice.store("gpu-a", TiledGemm.Tiles.T32);
        Path f = TileChoice.store("gpu-b", TiledGemm.Tiles.T64);
        assertEquals(dir.resolve("cache").resolve(TileChoice.FILE), f);
        assertEquals(TiledGemm.Tiles.T32, TileChoice.tuned("gpu-a"));
        assertEquals(TiledGemm.Tiles.T64, TileChoice.tuned("gpu-b"));
        TileChoice.store("gpu-a", TiledGemm.Tiles.T64);
        assertEquals(TiledGemm.Tiles.T64, TileChoice.tuned("gpu-a"));
    }

    @Test
    void anUnknownShapeInTheCacheFallsBackToTheTable() throws IOException {
        System.setProperty(TileChoice.CACHE_PROPERTY, dir.toString());
        Files.writeString(dir.resolve(TileChoice.FILE), "gpu-a=T999\n");
        assertNull(TileChoice.tuned("gpu-a"));
    }

    @Test
    void variantsParseAndBadOnesNameTheChoices() {
        assertEquals(MatmulVariant.LOOP, MatmulVariant.parseOrNull("loop"));
        assertEquals(MatmulVariant.TILE16, MatmulVariant.parseOrNull("tile16"));
        assertNull(MatmulVariant.parseOrNull("reg"));
        assertEquals(TiledGemm.Tiles.T32, MatmulVariant.parseOrNull("reg:T32").tiles());
        assertEquals(TiledGemm.Tiles.T64, MatmulVariant.parseOrNull("reg:64x64/4x4").tiles());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MatmulVariant.parseOrNull("fast"));
        assertTrue(e.getMessage().contains("loop, tile16, reg"), e.getMessage());
    }
}
