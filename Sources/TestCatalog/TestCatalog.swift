// TestCatalog module (in progress)
