using Microsoft.Playwright;
using NanoVlm.Generation;

namespace NanoVlm.Tests.Serving;

/// <summary>The chat page in a real browser: Playwright driving Debian's Chromium headless (installed by <c>./run test</c>).</summary>
[Collection(nameof(ServedModel))]
public class ChatPageTests(ServedModel served)
{
    const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task A_question_with_an_uploaded_image_streams_its_answer_into_the_page()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: './run test' installs Debian's chromium package");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(served.Server.Url.ToString());
        await page.WaitForFunctionAsync($"document.getElementById('model').textContent === '{ServedModel.ModelId}'");

        await page.SetInputFilesAsync("#image", ServedModel.Image(5));
        await page.WaitForSelectorAsync("#preview img");
        await page.FillAsync("#max-tokens", "24");
        await page.FillAsync("#prompt", "What is in this picture?");
        // Count the text changes of the answer as it arrives.
        await page.EvaluateAsync("""
            window.changes = 0;
            new MutationObserver(records => window.changes += records.length).observe(document.getElementById('log'), { subtree: true, characterData: true, childList: true });
            """);
        await page.ClickAsync("#send");
        await page.WaitForSelectorAsync(".msg.assistant.done", new PageWaitForSelectorOptions { Timeout = 60_000 });

        var answer = await page.TextContentAsync(".msg.assistant span");
        var expected = served.Vlm.Generate("What is in this picture?", [served.Vlm.Processor.Images.DecodeFile(ServedModel.Image(5))],
            new GenerationOptions { Greedy = true, MaxNewTokens = 24 });
        Assert.Equal(expected, answer);
        Assert.True(await page.EvaluateAsync<int>("window.changes") > 10, "the answer should arrive token by token");
        Assert.Equal(1, await page.Locator(".msg.user img").CountAsync());
    }
}
