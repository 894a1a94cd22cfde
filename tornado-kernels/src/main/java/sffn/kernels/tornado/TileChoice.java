package sffn.kernels.tornado;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;
import sffn.kernels.TiledGemm;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;

/**
 * The register-tiled GEMM's tile shape for a device: the one {@code sffn bench kernels --backend
 * tornado --tune} measured fastest on it, if it has been tuned, else a table by device type and
 * local-memory size. Tuned choices live in {@code tornado-tiles.properties} in sffn's cache
 * directory ({@value #CACHE_PROPERTY}, else {@code $XDG_CACHE_HOME/sffn}, else
 * {@code ~/.cache/sffn}), one line per device, keyed by {@link #key}.
 */
public final class TileChoice {
    /** System property: the directory of the tuned-tiles file. */
    public static final String CACHE_PROPERTY = "sffn.cache.dir";
    static final String FILE = "tornado-tiles.properties";

    private TileChoice() {
    }

    /** The tuned shape of this device if there is one, else {@link #table}. */
    public static TiledGemm.Tiles forDevice(TornadoDevice device) {
        TiledGemm.Tiles tuned = tuned(key(device));
        return tuned != null ? tuned : table(device.getDeviceType(), device.getDeviceLocalMemorySize());
    }

    /**
     * Before tuning: CPU devices (PoCL), whose work-items are iterations of vectorised loops, get
     * 128 x 128 tiles of 8 x 8 per work-item (measured there: a training step's three products at
     * 512x768x768 ran 3x faster than the best 4 x 4 shape); other devices with room for 64 x 64
     * tiles' 8.3 KiB of local memory (every GPU of the last decade) get 64 x 64 of 4 x 4, which
     * keeps many work-groups busy on small matrices until {@code --tune} has measured the device;
     * devices with less get 32 x 32 of 4 x 4 (4.1 KiB).
     */
    public static TiledGemm.Tiles table(TornadoDeviceType type, long localMemoryBytes) {
        if (type == TornadoDeviceType.CPU && localMemoryBytes >= TiledGemm.Tiles.T128.localBytes()) return TiledGemm.Tiles.T128;
        if (type == TornadoDeviceType.CPU || localMemoryBytes < TiledGemm.Tiles.T64.localBytes()) return TiledGemm.Tiles.T32;
        return TiledGemm.Tiles.T64;
    }

    /** What identifies a device across runs: its driver's name, TornadoVM backend and platform. */
    public static String key(TornadoDevice device) {
        var physical = device.getPhysicalDevice();
        String name = physical == null || physical.getDeviceName() == null ? device.getDeviceName() : physical.getDeviceName();
        return (name.trim() + "|" + device.getTornadoVMBackend() + "|" + device.getPlatformName().trim())
                .replaceAll("\\s+", "_");
    }

    public static Path cacheFile() {
        String dir = System.getProperty(CACHE_PROPERTY);
        if (dir == null) {
            String xdg = System.getenv("XDG_CACHE_HOME");
            dir = xdg != null && !xdg.isBlank() ? Path.of(xdg, "sffn").toString()
                    : Path.of(System.getProperty("user.home"), ".cache", "sffn").toString();
        }
        return Path.of(dir, FILE);
    }

    /** The tuned shape for {@code key}; null if none (or the file is unreadable, which tuning rewrites). */
    static TiledGemm.Tiles tuned(String key) {
        Path f = cacheFile();
        if (!Files.isRegularFile(f)) return null;
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(f)) {
            p.load(in);
        } catch (IOException e) {
            System.err.println("warning: cannot read the tuned tile shapes in " + f + " (" + e.getMessage()
                    + "); using the table's choice. 'sffn bench kernels --backend tornado --tune' rewrites it.");
            return null;
        }
        String v = p.getProperty(key);
        if (v == null) return null;
        try {
            return TiledGemm.Tiles.valueOf(v.trim());
        } catch (IllegalArgumentException e) {
            System.err.println("warning: " + f + " gives device " + key + " the unknown tile shape '" + v
                    + "'; using the table's choice. 'sffn bench kernels --backend tornado --tune' rewrites it.");
            return null;
        }
    }

    /** Records {@code tiles} for {@code key}, keeping the other devices' lines; written to a temporary name and renamed. */
    public static Path store(String key, TiledGemm.Tiles tiles) throws IOException {
        Path f = cacheFile();
        Files.createDirectories(f.getParent());
        Properties p = new Properties();
        if (Files.isRegularFile(f)) {
            try (InputStream in = Files.newInputStream(f)) {
                p.load(in);
            }
        }
        p.setProperty(key, tiles.name());
        Path tmp = f.resolveSibling(FILE + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "sffn: register-tiled GEMM tile shape per TornadoVM device, from 'sffn bench kernels --backend tornado --tune'");
        }
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return f;
    }
}
