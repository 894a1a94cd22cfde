package sffn.cli.bench;

import sffn.cli.OptionRanges;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.cli.BackendOptions;
import sffn.kernels.backend.Backend;

/** {@code sffn bench ffn}: the paper's FFN efficiency figures on this runtime. */
@Command(name = "ffn", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Latency of one FFN forward (FFN width 4 x width) for dense, LowRank, BlockDense and BlockShuffle at"
                + " 63%% and 32%% parameters: vs width at a fixed token count (the paper's Figure 4a), and vs token count"
                + " with the pre-merged path (structured, merged, auto).", "Writes CSV and PNG files to --out."})
public final class BenchFfnCommand implements Callable<Integer> {

    @Option(names = "--figure", paramLabel = "width|tokens|both", description = "Which sweep (default both).")
    String figure = "both";

    @Option(names = "--widths", split = ",", paramLabel = "<w,...>", description = "Widths of the width sweep (default 1024,1536,2048,3072,4096,5120).")
    int[] widths = {1024, 1536, 2048, 3072, 4096, 5120};

    @Option(names = "--tokens", paramLabel = "<n>", description = "Token count of the width sweep (default 512).")
    int tokens = 512;

    @Option(names = "--token-widths", split = ",", paramLabel = "<w,...>", description = "Widths of the token sweep (default 2048,4096,6144).")
    int[] tokenWidths = {2048, 4096, 6144};

    @Option(names = "--token-counts", split = ",", paramLabel = "<n,...>", description = "Token counts of the token sweep (default 1,2,4,...,2048).")
    int[] tokenCounts = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

    @Option(names = "--budget-ms", description = "Time budget per measurement in ms (default 400).")
    double budget = 400;

    @Option(names = "--out", paramLabel = "<dir>", description = "Folder for CSV and PNG (default runs/bench-ffn).")
    Path out = Path.of("runs", "bench-ffn");

    @Option(names = "--json", description = "One JSON object per measurement on stdout instead of tables.")
    boolean json;

    private final ObjectMapper mapper = new ObjectMapper();

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        OptionRanges.atLeast("--tokens", tokens, 1);
        OptionRanges.within("--budget-ms", budget, 1e-3, 1e7);
        OptionRanges.atLeast("--widths", widths, 1);
        OptionRanges.atLeast("--token-widths", tokenWidths, 1);
        OptionRanges.atLeast("--token-counts", tokenCounts, 1);
        if (!List.of("width", "tokens", "both").contains(figure)) {
            throw new IllegalArgumentException("--figure must be width, tokens or both, got " + figure);
        }
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(out);
        try (Backend backend = backendOptions.create()) {
            if (!json) System.out.println("backend: " + backend.describe());
            if (!figure.equals("tokens")) {
                if (!json) {
                    System.out.printf(Locale.ROOT, "%nFFN forward latency vs width at %d tokens (median ms; speedup over dense)%n", tokens);
                    System.out.printf(Locale.ROOT, "%6s %-13s %6s %10s %8s%n", "width", "method", "params", "ms", "speedup");
                }
                Map<Integer, Double> dense = new LinkedHashMap<>();
                List<FfnBench.Row> rows = FfnBench.byWidth(backend, widths, tokens, budget, r -> {
                    if (r.method().equals("dense")) dense.put(r.width(), r.ms());
                    emit(r, dense.get(r.width()));
                });
                writeCsv(out.resolve("ffn-width.csv"), rows);
                plotWidth(out.resolve("ffn-width.png"), rows);
            }
            if (!figure.equals("width")) {
                if (!json) {
                    System.out.printf(Locale.ROOT, "%nFFN forward latency vs token count at 32%% parameters (median ms)%n");
                    System.out.printf(Locale.ROOT, "%6s %-13s %6s %6s %-10s %10s %8s%n", "width", "method", "params", "tokens",
                            "path", "ms", "vs dense");
                }
                sweepingTokens = true;
                Map<String, Double> dense = new LinkedHashMap<>();
                Consumer<String> note = json ? s -> { } : System.out::println;
                List<FfnBench.Row> rows = FfnBench.byTokens(backend, tokenWidths, tokenCounts, budget, r -> {
                    if (r.method().equals("dense")) dense.put(r.width() + "x" + r.tokens(), r.ms());
                    emit(r, dense.get(r.width() + "x" + r.tokens()));
                }, note);
                writeCsv(out.resolve("ffn-tokens.csv"), rows);
                for (int w : tokenWidths) plotTokens(out.resolve("ffn-tokens-" + w + ".png"), rows, w);
            }
            if (!json) System.out.println("\nwrote CSV and PNG to " + out);
        }
        return 0;
    }

    private void emit(FfnBench.Row r, Double denseMs) {
        if (json) {
            ObjectNode n = mapper.createObjectNode();
            n.put("backend", r.backend());
            n.put("method", r.method());
            n.put("params_ratio", r.paramsRatio());
            n.put("width", r.width());
            n.put("tokens", r.tokens());
            n.put("path", r.path());
            n.put("ms", r.ms());
            System.out.println(n);
            return;
        }
        String speed = denseMs == null ? "" : String.format(Locale.ROOT, "%.2fx", denseMs / r.ms());
        if (!sweepingTokens) {
            System.out.printf(Locale.ROOT, "%6d %-13s %5.1f%% %10.3f %8s%n", r.width(), r.method() + "-" + r.point(),
                    100 * r.paramsRatio(), r.ms(), speed);
        } else {
            System.out.printf(Locale.ROOT, "%6d %-13s %5.1f%% %6d %-10s %10.3f %8s%n", r.width(), r.method() + "-" + r.point(),
                    100 * r.paramsRatio(), r.tokens(), r.path(), r.ms(), speed);
        }
    }

    private boolean sweepingTokens;

    private static void writeCsv(Path file, List<FfnBench.Row> rows) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("backend,method,params_ratio,width,tokens,path,ms");
        for (FfnBench.Row r : rows) {
            lines.add(String.format(Locale.ROOT, "\"%s\",%s,%.4f,%d,%d,%s,%.6f", r.backend(), r.method(), r.paramsRatio(), r.width(),
                    r.tokens(), r.path(), r.ms()));
        }
        Files.write(file, lines);
    }

    private static final Color[] COLORS = {Color.BLACK, new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44),
            new Color(255, 127, 14), new Color(148, 103, 189), new Color(140, 86, 75)};

    private static void plotWidth(Path file, List<FfnBench.Row> rows) throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(600).title("FFN forward latency vs width")
                .xAxisTitle("width (FFN 4x)").yAxisTitle("ms (median)").build();
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        Map<String, List<FfnBench.Row>> series = new LinkedHashMap<>();
        for (FfnBench.Row r : rows) series.computeIfAbsent(r.method() + "-" + r.point() + "%", k -> new ArrayList<>()).add(r);
        int i = 0;
        for (Map.Entry<String, List<FfnBench.Row>> e : series.entrySet()) {
            XYSeries s = c.addSeries(e.getKey().replace("dense-100%", "dense"), e.getValue().stream().map(FfnBench.Row::width).toList(),
                    e.getValue().stream().map(FfnBench.Row::ms).toList());
            s.setLineColor(COLORS[i % COLORS.length]);
            s.setMarkerColor(COLORS[i % COLORS.length]);
            i++;
        }
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static void plotTokens(Path file, List<FfnBench.Row> rows, int width) throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(600).title("FFN forward latency vs tokens, width " + width
                        + ", 32% parameters").xAxisTitle("tokens").yAxisTitle("ms (median)").build();
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        Map<String, List<FfnBench.Row>> series = new LinkedHashMap<>();
        for (FfnBench.Row r : rows) {
            if (r.width() != width || r.path().equals("merged")) continue;
            series.computeIfAbsent(r.method().equals("dense") ? "dense" : r.method() + " " + r.path(), k -> new ArrayList<>()).add(r);
        }
        int i = 0;
        for (Map.Entry<String, List<FfnBench.Row>> e : series.entrySet()) {
            XYSeries s = c.addSeries(e.getKey(), e.getValue().stream().map(FfnBench.Row::tokens).toList(),
                    e.getValue().stream().map(FfnBench.Row::ms).toList());
            s.setLineColor(COLORS[i % COLORS.length]);
            s.setMarkerColor(COLORS[i % COLORS.length]);
            i++;
        }
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
