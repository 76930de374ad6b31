namespace NativeNet;

/// <summary>Placeholder type; replaced by the real library surface.</summary>
public static class Placeholder { }
