using ScottPlot;
using NanoVlm.Runtime;

namespace NanoVlm.Cli.Training;

/// <summary><c>loss.png</c>: train and validation loss per step, accuracy on a second axis.</summary>
public sealed class LossPlot(string path)
{
    readonly List<(double Step, double Loss)> train = [];
    readonly List<(double Step, double Loss)> val = [];
    readonly List<(double Step, double Accuracy)> accuracy = [];

    public void AddTrain(int step, double loss)
    {
        if (double.IsFinite(loss)) train.Add((step, loss));
    }

    public void AddEval(int step, double? valLoss, double? acc)
    {
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
        plot.ShowLegend();
        var bytes = plot.GetImageBytes(900, 500, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
