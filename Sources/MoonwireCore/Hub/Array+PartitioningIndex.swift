extension Array {
    /// The first index whose element satisfies `belongsInSecondPart`, for an array partitioned by it
    /// (binary search).
    func partitioningIndex(where belongsInSecondPart: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if belongsInSecondPart(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
