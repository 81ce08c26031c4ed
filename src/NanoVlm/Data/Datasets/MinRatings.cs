using System.Collections;

namespace NanoVlm.Data;

/// <summary>
/// nanoVLM's quality filter for FineVision-style rows, whose per-turn lists <c>relevance_ratings</c>,
/// <c>image_correspondence_ratings</c>, <c>visual_dependency_ratings</c> and <c>formatting_ratings</c> rate each turn: a turn with a
/// rating below the matching minimum is dropped. Missing columns, lists and values drop nothing. nanoVLM's defaults are 1.
/// </summary>
public sealed record MinRatings(int Relevance = 1, int ImageCorrespondence = 1, int VisualDependency = 1, int Formatting = 1)
{
    public static readonly MinRatings Default = new();

    /// <summary>Whether turn <paramref name="index"/> of the row meets every minimum.</summary>
    public bool Keeps(IReadOnlyDictionary<string, object> row, int index) =>
        Meets(row, "relevance_ratings", index, Relevance)
        && Meets(row, "image_correspondence_ratings", index, ImageCorrespondence)
        && Meets(row, "visual_dependency_ratings", index, VisualDependency)
        && Meets(row, "formatting_ratings", index, Formatting);

    static bool Meets(IReadOnlyDictionary<string, object> row, string column, int index, int min) =>
        row.GetValueOrDefault(column) is not IList ratings || index >= ratings.Count
        || ratings[index] is not IConvertible rating || rating.ToDouble(null) >= min;
}
