namespace NativeNet;

/// <summary>x</summary>
public static class Placeholder {}
