using NanoVlm.Runtime;
namespace NanoVlm.Hub;

/// <summary>The README.md that <c>push_to_hub</c> puts next to a checkpoint: nanoVLM's Hub metadata and how to use the model.</summary>
public static class ModelCard
{
    public static string Text(string repoId) => $$"""
        ---
        # For reference on model card metadata, see the spec: https://github.com/huggingface/hub-docs/blob/main/modelcard.md?plain=1
        # Doc / guide: https://huggingface.co/docs/hub/model-cards
        library_name: nanovlm
        license: mit
        pipeline_tag: image-text-to-text
        tags:
          - vision-language
          - multimodal
          - research
        ---

        **nanoVLM** is a minimal and lightweight Vision-Language Model (VLM) designed for efficient training and experimentation:
        a ViT image encoder (SigLIP) with a modality projection into a small causal language model (SmolLM2).
        This checkpoint was trained and uploaded with NanoVLM.NET, a .NET port of [nanoVLM](https://github.com/huggingface/nanoVLM).

        **Usage**

        With NanoVLM.NET:

        ```bash
        nanovlm generate --model {{repoId}}
        ```

        (`nanovlm generate --help` lists the image and prompt options.)

        With the Python nanoVLM repository (https://github.com/huggingface/nanoVLM):

        ```python
        from models.vision_language_model import VisionLanguageModel

        model = VisionLanguageModel.from_pretrained("{{repoId}}")
        ```

        """;

    /// <summary>Writes <c>{folder}/README.md</c> and returns its path.</summary>
    public static string Write(string folder, string repoId)
    {
        var path = Path.Combine(folder, "README.md");
        AtomicFile.WriteAllText(path, Text(repoId));
        return path;
    }
}
