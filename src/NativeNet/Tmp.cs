namespace NativeNet;

/// <summary>Placeholder type until the core API lands.</summary>
public static class Placeholder { }
