package sffn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.nn.io.ModelCheckpoint;
import sffn.train.Trainer;

/** {@code sffn plot}: training and validation loss curves of several runs in one picture. */
@Command(name = "plot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Plot the train and validation loss of one or more runs (their metrics.jsonl) into a PNG.")
public final class PlotCommand implements Callable<Integer> {

    /** The x axis. */
    enum Axis { STEP, TOKENS, FLOPS, TIME }

    @Option(names = "--runs", required = true, arity = "1..*", paramLabel = "<ckpt dir>", description = "Checkpoint directories.")
    List<Path> runs;

    @Option(names = "--labels", arity = "1..*", paramLabel = "<label>", description = "One legend label per run (default: the"
            + " method, e.g. 'lowrank r64'; the run folder's name when two runs would share one).")
    List<String> labels;

    @Option(names = "--out", required = true, paramLabel = "<png>", description = "Output PNG file.")
    Path out;

    @Option(names = "--x", paramLabel = "steps|tokens|flops|time", converter = AxisConverter.class,
            description = "x axis: steps, tokens, FLOPs or training time in seconds (default tokens).")
    Axis axis = Axis.TOKENS;

    static final class AxisConverter implements picocli.CommandLine.ITypeConverter<Axis> {
        @Override
        public Axis convert(String v) {
            return switch (v.toLowerCase(Locale.ROOT)) {
                case "step", "steps" -> Axis.STEP;
                case "token", "tokens" -> Axis.TOKENS;
                case "flop", "flops" -> Axis.FLOPS;
                case "time", "seconds" -> Axis.TIME;
                default -> throw new picocli.CommandLine.TypeConversionException("'" + v
                        + "' is not an x axis; give steps, tokens, flops or time");
            };
        }
    }

    @Option(names = "--title", description = "Chart title.")
    String title = "Loss";

    @Option(names = "--smooth", description = "Exponential smoothing of the train loss, 0..1 (default 0.9); a run with"
            + " few points is smoothed less, over at most a tenth of its points.")
    double smooth = 0.9;

    private static final Color[] COLORS = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44),
            new Color(255, 127, 14), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194)};

    @Override
    public Integer call() throws Exception {
        OptionRanges.within("--smooth", smooth, 0, 0.999);
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(1000).height(600).title(title)
                .xAxisTitle(switch (axis) {
                    case STEP -> "step";
                    case TOKENS -> "training tokens";
                    case FLOPS -> "training FLOPs (guide included)";
                    case TIME -> "training time (s)";
                }).yAxisTitle("loss (nats per token)").build();
        chart.getStyler().setMarkerSize(6);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        if (!(smooth >= 0 && smooth < 1)) {
            throw new IllegalArgumentException("--smooth must be at least 0 and below 1, got " + smooth);
        }
        List<String> names = labels(runs, labels);
        for (int i = 0; i < runs.size(); i++) {
            Path run = runs.get(i);
            Path file = run.resolve(Trainer.METRICS);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(file + ": missing; is " + run + " a training checkpoint?");
            }
            String label = names.get(i);
            List<String> lines = Files.readAllLines(file);
            long trainPoints = lines.stream().filter(l -> l.contains("\"loss\"")).count();
            double smooth = boundedSmoothing(this.smooth, trainPoints);
            double clock = 0;
            double lastTokens = 0;
            List<Double> tx = new ArrayList<>();
            List<Double> ty = new ArrayList<>();
            List<Double> vx = new ArrayList<>();
            List<Double> vy = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            double ema = 0;
            int seen = 0;
            int lineNo = 0;
            for (String line : lines) {
                lineNo++;
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = json.readTree(line);
                } catch (IOException e) {
                    throw new IllegalArgumentException(file + ": line " + lineNo + " is not JSON");
                }
                double x = switch (axis) {
                    case STEP -> n.path("step").asDouble();
                    case TOKENS -> n.path("tokens").asDouble();
                    case FLOPS -> n.path("flops").asDouble();
                    case TIME -> {
                        // elapsed_s where recorded; older runs: the sum of each step's tokens over its tokens/s
                        if (n.has("elapsed_s")) {
                            clock = n.get("elapsed_s").asDouble();
                        } else if (n.has("tokens_per_s") && n.get("tokens_per_s").asDouble() > 0) {
                            clock += (n.path("tokens").asDouble() - lastTokens) / n.get("tokens_per_s").asDouble();
                        }
                        lastTokens = n.path("tokens").asDouble();
                        yield clock;
                    }
                };
                if (n.has("loss")) {
                    double l = n.get("loss").asDouble();
                    // Debiased exponential average, so early points are not pulled towards zero.
                    ema = smooth * ema + (1 - smooth) * l;
                    seen++;
                    tx.add(x);
                    ty.add(smooth == 0 ? l : ema / (1 - Math.pow(smooth, seen)));
                } else if (n.has("val_loss")) {
                    vx.add(x);
                    vy.add(n.get("val_loss").asDouble());
                }
            }
            Color c = COLORS[i % COLORS.length];
            if (!tx.isEmpty()) {
                XYSeries s = chart.addSeries(label + " train", tx, ty);
                s.setMarker(SeriesMarkers.NONE);
                s.setLineColor(c);
                s.setLineStyle(new BasicStroke(1.2f));
                for (int k = ty.size() / 10; k < ty.size(); k++) {
                    lo = Math.min(lo, ty.get(k));
                    hi = Math.max(hi, ty.get(k));
                }
            }
            if (!vx.isEmpty()) {
                XYSeries s = chart.addSeries(label + " val", vx, vy);
                s.setMarker(SeriesMarkers.CIRCLE);
                s.setMarkerColor(c);
                s.setLineColor(c);
                s.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                for (double v : vy) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (lo < hi) {
            double pad = 0.08 * (hi - lo);
            chart.getStyler().setYAxisMin(lo - pad);
            chart.getStyler().setYAxisMax(hi + pad);
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        BitmapEncoder.saveBitmap(chart, out.toString(), BitmapEncoder.BitmapFormat.PNG);
        System.out.println("wrote " + out);
        return 0;
    }

    /**
     * The smoothing factor used for a run with {@code points} train-loss points: the exponential
     * average's time constant {@code 1/(1-s)} at most a tenth of the points (none below 20 points).
     */
    static double boundedSmoothing(double smooth, long points) {
        double most = Math.max(0, 1 - 10.0 / Math.max(1, points));
        return Math.min(smooth, most);
    }

    /** The legend labels: {@code given}, else the method labels, made unique with the run folders' names. */
    static List<String> labels(List<Path> runs, List<String> given) {
        if (given != null) {
            if (given.size() != runs.size()) {
                throw new IllegalArgumentException("--labels gives " + given.size() + " label(s) for " + runs.size()
                        + " run(s); give one per run");
            }
            if (given.stream().distinct().count() != given.size()) {
                throw new IllegalArgumentException("--labels must differ from each other: " + given);
            }
            return given;
        }
        List<String> method = runs.stream().map(PlotCommand::label).toList();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            String m = method.get(i);
            boolean shared = method.stream().filter(m::equals).count() > 1;
            Path abs = runs.get(i).toAbsolutePath().normalize();
            String dir = abs.getFileName() == null ? abs.toString() : abs.getFileName().toString();
            String l = shared ? dir + " (" + m + ")" : m;
            // the same folder name in two places: fall back to the paths as given
            out.add(out.contains(l) ? runs.get(i) + " (" + m + ")" : l);
        }
        return out;
    }

    /** "lowrank r64 sgt fixedflop" from the run's config.json, else the directory name. */
    static String label(Path run) {
        try {
            JsonNode cfg = ModelCheckpoint.readConfig(run);
            JsonNode m = cfg.path("method");
            String name = m.path("name").asText("linear");
            StringBuilder s = new StringBuilder(name.equals("linear") ? "dense" : name);
            if (m.has("rank")) s.append(" r").append(m.get("rank").asInt());
            if (m.has("nblocks")) s.append(" b").append(m.get("nblocks").asInt());
            JsonNode g = cfg.path("train").path("self_guided");
            if (g.path("enabled").asBoolean(false)) {
                s.append(" sgt ").append(g.path("mode").asText()).append(String.format(Locale.ROOT, " %.2f",
                        g.path("max_step_ratio").asDouble()));
            }
            return s.toString();
        } catch (IOException | RuntimeException e) {
            return run.getFileName().toString();
        }
    }
}
