namespace NativeNet.Tests; public class T { [NUnit.Framework.Test] public void A(){} }
