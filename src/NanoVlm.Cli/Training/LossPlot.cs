using ScottPlot;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Training;

/// <summary><c>loss.png</c>: train and validation loss per step; accuracy and the task metrics scored 0..1 on a second axis, in %.</summary>
public sealed class LossPlot(string path)
{
    readonly List<(double Step, double Loss)> train = [];
    readonly List<(double Step, double Loss)> val = [];
    readonly List<(double Step, double Accuracy)> accuracy = [];
    readonly Dictionary<string, List<(double Step, double Value)>> tasks = [];

    public void AddTrain(int step, double loss)
    {
        if (double.IsFinite(loss)) train.Add((step, loss));
    }

    public void AddEval(int step, double? valLoss, double? acc, IReadOnlyDictionary<string, double>? taskMetrics = null)
    {
        // MME's sums (0..2,800) do not share the percent axis; they stay in metrics.jsonl.
        foreach (var (name, value) in taskMetrics ?? new Dictionary<string, double>())
            if (value is >= 0 and <= 1)
                (tasks.TryGetValue(name, out var points) ? points : tasks[name] = []).Add((step, 100 * value));
        if (valLoss is { } v && double.IsFinite(v)) val.Add((step, v));
        if (acc is { } a) accuracy.Add((step, 100 * a));
    }

    public void Save()
    {
        var plot = new Plot();
        plot.Title("nanoVLM training");
        plot.XLabel("optimizer step");
        plot.YLabel("loss");
        if (train.Count > 0) plot.Add.ScatterLine(train.Select(p => p.Step).ToArray(), train.Select(p => p.Loss).ToArray()).LegendText = "train loss";
        if (val.Count > 0)
        {
            var s = plot.Add.Scatter(val.Select(p => p.Step).ToArray(), val.Select(p => p.Loss).ToArray());
            s.LegendText = "validation loss";
        }
        if (accuracy.Count > 0)
        {
            var s = plot.Add.Scatter(accuracy.Select(p => p.Step).ToArray(), accuracy.Select(p => p.Accuracy).ToArray());
            s.LegendText = "accuracy (%)";
            s.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "accuracy (%)";
        }
        foreach (var (name, points) in tasks)
        {
            var s = plot.Add.ScatterLine(points.Select(p => p.Step).ToArray(), points.Select(p => p.Value).ToArray());
            s.LegendText = $"{name} (%)";
            s.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "accuracy (%)";
        }
        plot.ShowLegend();
        var bytes = plot.GetImageBytes(900, 500, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
