using System.Globalization;
using System.Text;

namespace NanoVlm.Server;

/// <summary>A Prometheus histogram in seconds: cumulative bucket counts, sum and count, in the text exposition format.</summary>
sealed class PrometheusHistogram(string name, string help, params double[] bounds)
{
    readonly long[] _counts = new long[bounds.Length + 1];
    double _sum;
    long _count;

    public void Observe(double seconds)
    {
        lock (_counts)
        {
            var bucket = Array.FindIndex(bounds, b => seconds <= b);
            _counts[bucket < 0 ? bounds.Length : bucket]++;
            _sum += seconds;
            _count++;
        }
    }

    public void WriteTo(StringBuilder text)
    {
        lock (_counts)
        {
            text.Append($"# HELP {name} {help}\n# TYPE {name} histogram\n");
            long cumulative = 0;
            for (var i = 0; i <= bounds.Length; i++)
            {
                cumulative += _counts[i];
                var le = i < bounds.Length ? bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                text.Append($"{name}_bucket{{le=\"{le}\"}} {cumulative}\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum {_sum}\n{name}_count {_count}\n");
        }
    }
}
