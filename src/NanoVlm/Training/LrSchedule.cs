namespace NanoVlm.Training;

/// <summary>
/// nanoVLM's schedule: linear warmup over 3% of the steps, then cosine down to 10% of the peak. A warmup shorter than one step
/// (runs under 34 steps) never goes past the peak (nanoVLM's formula would divide by it).
/// </summary>
public static class LrSchedule
{
    public static double At(int step, double maxLr, int maxSteps)
    {
        var minLr = 0.1 * maxLr;
        var warmup = maxSteps * 0.03;
        if (step < warmup) return maxLr * Math.Min(1.0, (step + 1) / warmup);
        if (step > maxSteps) return minLr;
        var decay = (step - warmup) / (maxSteps - warmup);
        return minLr + 0.5 * (1.0 + Math.Cos(Math.PI * decay)) * (maxLr - minLr);
    }
}
