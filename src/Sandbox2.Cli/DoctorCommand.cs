using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sandbox2.Diagnostics;

namespace Sandbox2.Cli;

/// <summary><c>sandbox2 doctor [--json]</c> (CONTRACT.md): one line per feature, exit 0 when the full sandbox can run.</summary>
internal static class DoctorCommand
{
    private static readonly Option<bool> Json = new("--json") { Description = "Print the checks as JSON" };

    public static Command Create()
    {
        var command = new Command("doctor", "Check this kernel and machine for everything the sandbox uses, by trying it.") { Json };
        command.SetAction(parsed => Run(parsed.GetValue(Json)));
        return command;
    }

    private static int Run(bool json)
    {
        var results = Doctor.Run();
        bool full = Doctor.FullSandboxReady(results), noNs = Doctor.NoNamespacesReady(results);
        if (json)
        {
            var doc = new DoctorJson
            {
                FullSandbox = full,
                NoNamespaces = noNs,
                Checks = [.. results.Select(r => new DoctorCheckJson
                {
                    Feature = r.Feature, Status = StateName(r.State), Required = r.Required, Detail = r.Detail, Breaks = r.Breaks, Fix = r.Fix,
                })],
            };
            Console.Out.Write(JsonSerializer.Serialize(doc, Context.DoctorJson) + "\n");
        }
        else
        {
            foreach (var r in results)
            {
                Console.Out.WriteLine($"{StateName(r.State),-8} {r.Feature}: {r.Detail}");
                if (r.State != CheckState.Ok && r.Breaks is not null) Console.Out.WriteLine($"{"",-9}without it: {r.Breaks}");
                if (r.State != CheckState.Ok && r.Fix is not null) Console.Out.WriteLine($"{"",-9}to do: {r.Fix.ReplaceLineEndings("\n" + new string(' ', 13))}");
            }
            Console.Out.WriteLine();
            Console.Out.WriteLine(full ? "full sandbox: ready" : "full sandbox: NOT ready (see the missing features above)");
            Console.Out.WriteLine(noNs ? "--isolation no-namespaces: ready (seccomp + Landlock, weaker)" : "--isolation no-namespaces: NOT ready (needs seccomp and Landlock)");
        }
        return full ? 0 : 1;
    }

    private static string StateName(Sandbox2.Diagnostics.CheckState state) => state switch
    {
        Sandbox2.Diagnostics.CheckState.Ok => "ok",
        Sandbox2.Diagnostics.CheckState.Fallback => "fallback",
        Sandbox2.Diagnostics.CheckState.Missing => "MISSING",
        _ => "info",
    };

    private static readonly DoctorJsonContext Context = new(new JsonSerializerOptions(DoctorJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

internal sealed class DoctorJson
{
    public bool FullSandbox { get; init; }
    public bool NoNamespaces { get; init; }
    public required IReadOnlyList<DoctorCheckJson> Checks { get; init; }
}

internal sealed class DoctorCheckJson
{
    public required string Feature { get; init; }
    public required string Status { get; init; }
    public bool Required { get; init; }
    public required string Detail { get; init; }
    public string? Breaks { get; init; }
    public string? Fix { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never, WriteIndented = true)]
[JsonSerializable(typeof(DoctorJson))]
internal sealed partial class DoctorJsonContext : JsonSerializerContext;
