Console.WriteLine("nanovlm");
