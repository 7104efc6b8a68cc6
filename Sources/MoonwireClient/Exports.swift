@_exported import MoonwireCore
