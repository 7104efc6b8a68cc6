import Foundation
import LuaRuntime
import MoonwireCore

/// Runs spec files: each in a sandboxed Lua state of its own with the `test` module, each test (`it`)
/// as a coroutine against hubs it makes (`test.hub{}`), stopped when the test ends.
public enum PluginSpecRunner {
    /// Runs one spec file; one result per test, or one failed result when the file does not load.
    public static func run(_ spec: PluginSpec) async -> [PluginSpecResult] {
        let started = MonotonicClock.nanoseconds()
        func loadFailure(_ message: String) -> [PluginSpecResult] {
            [PluginSpecResult(spec: spec.path, name: "(loading the spec)", failure: message, seconds: seconds(since: started))]
        }
        let text: String
        do {
            text = try String(contentsOfFile: spec.path, encoding: .utf8)
        } catch {
            return loadFailure("cannot read \(spec.path): \(error.localizedDescription)")
        }
        let session = SpecSession(spec: spec)
        let state: LuaState
        do {
            // A test waits for hubs and advances clocks; its own Lua code is bounded like a plugin's.
            state = try LuaState(limits: LuaLimits(callTimeout: .seconds(60)))
        } catch {
            return loadFailure("cannot create a Lua state: \(error)")
        }
        state.installModule("test", functions: SpecModule.functions(session))
        let runner: (count: LuaRef, name: LuaRef, run: LuaRef)
        do {
            guard let table = try state.run(source: SpecPrelude.source, chunkName: "=moonwire test"),
                let count = state.fieldRef(table, "count", ofType: .function), let name = state.fieldRef(table, "name", ofType: .function),
                let run = state.fieldRef(table, "run", ofType: .function)
            else { return loadFailure("the test prelude did not load") }
            runner = (count, name, run)
            _ = try state.run(source: text, chunkName: spec.path)
        } catch {
            return loadFailure(error.description)
        }
        guard case .success(let counted) = state.call(runner.count, [], results: 1), case .value(let countValue)? = counted.first,
            let count = countValue.intValue, count > 0
        else {
            return loadFailure("\(spec.path) has no tests: add describe(\"...\", function() it(\"...\", function() ... end) end)")
        }
        var results: [PluginSpecResult] = []
        for index in 1...Int(count) {
            let begun = MonotonicClock.nanoseconds()
            var name = "test \(index)"
            if case .success(let named) = state.call(runner.name, [.int(Int64(index))], results: 1), case .value(.string(let text))? = named.first {
                name = text
            }
            let failure = await runTest(index, runner.run, on: state)
            await session.endTest()
            results.append(PluginSpecResult(spec: spec.path, name: name, failure: failure, seconds: seconds(since: begun)))
        }
        return results
    }

    /// Runs test `index` to its end, going on after each wait; why it failed, or `nil`.
    private static func runTest(_ index: Int, _ run: LuaRef, on state: LuaState) async -> String? {
        let coroutine = state.coroutine(run, [.int(Int64(index))], results: 0)
        var step = coroutine.resume()
        while case .suspended(let operation) = step {
            guard let wait = operation as? PluginWait else {
                step = coroutine.resume(failing: "a test cannot wait for that")
                continue
            }
            switch await wait.run(coroutine.deadline) {
            case .values(let values): step = coroutine.resume(with: values)
            case .failure(let message): step = coroutine.resume(failing: message)
            }
        }
        switch step {
        case .done: return nil
        case .failed(let error): return describe(error)
        case .suspended: return "the test did not finish"
        }
    }

    /// The failure's message, and the lines of its traceback that are in the spec (not in the test module).
    private static func describe(_ error: LuaError) -> String {
        let lines = error.detailed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let message = lines.first else { return error.description }
        let kept = lines.dropFirst().filter { line in
            !line.contains("=moonwire test") && !line.contains("[C]:") && !line.contains("(...tail calls...)") && line != "stack traceback:"
        }
        return ([message] + kept.map { "  " + $0.trimmingCharacters(in: .whitespaces) }).joined(separator: "\n")
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(MonotonicClock.nanoseconds() - start) / 1e9
    }
}
